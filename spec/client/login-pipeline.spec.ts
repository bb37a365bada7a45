// Black-box spec of the end of a login when the pool already knows its server parameters:
// queries a client sends in the same write as its last login message (pgmux sends the welcome
// while it is still reading that write; issue 3, "Startup": a client's first query behind its
// login), and how the welcome itself leaves: AuthenticationOk, the ParameterStatus run,
// BackendKeyData and ReadyForQuery in one write (a write per message was a system call and a
// wake-up of the client each, which pgbench -C pays at every connection).

import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { startMux } from './support/setup';
import { RawClient, authRequest, md5Password, msg, rowsOf, type Frame } from '../support/wire';

let cluster: Cluster;
/** md5 auth. */
let mux: PgmuxProcess;
/** auth_type = trust: the welcome follows the StartupMessage itself. */
let trusting: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  [mux, trusting] = await Promise.all([startMux(cluster), startMux(cluster, { settings: { auth_type: 'trust' } })]);
  // A first login to each, so that the pool knows its server parameters and welcomes at once.
  for (const m of [mux, trusting]) await (await RawClient.login(m.port, 'app_md5', cluster.password)).close();
});

afterAll(async () => {
  await Promise.all([mux?.stop(), trusting?.stop()]);
  await cluster?.stop();
});

/** Reads the welcome through its ReadyForQuery, then the answer to the pipelined query. */
async function answerAfterWelcome(c: RawClient): Promise<(string | null)[][]> {
  await c.waitFor('Z');
  const frames = await c.until('Z');
  expect(frames.map((f) => f.type)).not.toContain('E');
  return rowsOf(frames);
}

describe('a query in the same write as the last login message', () => {
  it('behind the md5 password is answered (catches: frames behind the password read as login messages and refused as "unexpected message type during login")', async () => {
    const c = await RawClient.open(mux.port);
    try {
      c.send(msg.startup({ user: 'app_md5', database: 'app' }));
      const { data } = authRequest((await c.next()).body);
      c.send(msg.password(md5Password('app_md5', cluster.password, data.subarray(0, 4))), msg.query('SELECT 41 + 1'));
      expect(await answerAfterWelcome(c)).toEqual([['42']]);
    } finally {
      c.destroy();
    }
  });

  it('behind the StartupMessage under trust is answered, also when it is split across writes (catches: the part of the query left in the login framer lost)', async () => {
    const c = await RawClient.open(trusting.port);
    try {
      const query = msg.query(`SELECT length('${'x'.repeat(100000)}')`);
      c.send(msg.startup({ user: 'app_md5', database: 'app' }), query.subarray(0, 1000));
      // The rest once the welcome is out, so that pgmux cannot have read both parts at once.
      await c.waitFor('Z');
      c.send(query.subarray(1000));
      const frames = await c.until('Z');
      expect(frames.map((f) => f.type)).not.toContain('E');
      expect(rowsOf(frames)).toEqual([['100000']]);
    } finally {
      c.destroy();
    }
  });
});

/** The sizes of the chunks `c` reads from now on. */
function chunkSizes(c: RawClient): number[] {
  const sizes: number[] = [];
  c.socket.on('data', (chunk: Buffer) => sizes.push(chunk.length));
  return sizes;
}

const LOGINS = 20;

describe('the welcome', () => {
  it(`after an md5 password is read in one piece, AuthenticationOk through ReadyForQuery, in ${LOGINS} logins out of ${LOGINS} (catches: AuthenticationOk written apart from the rest)`, async () => {
    for (let i = 0; i < LOGINS; i++) {
      const c = await RawClient.open(mux.port);
      try {
        c.send(msg.startup({ user: 'app_md5', database: 'app' }));
        const { code, data } = authRequest((await c.next()).body);
        expect(code).toBe(5);
        const sizes = chunkSizes(c);
        c.send(msg.password(md5Password('app_md5', cluster.password, data.subarray(0, 4))));
        const frames: Frame[] = await c.until('Z');
        expect(frames[0].type).toBe('R');
        expect(authRequest(frames[0].body).code).toBe(0);
        expect(frames.map((f) => f.type).slice(-2)).toEqual(['K', 'Z']);
        expect(sizes[0]).toBe(frames.reduce((n, f) => n + f.bytes.length, 0));
      } finally {
        c.destroy();
      }
    }
  });

  it('under trust is the one answer to the StartupMessage', async () => {
    for (let i = 0; i < LOGINS; i++) {
      const c = await RawClient.open(trusting.port);
      try {
        const sizes = chunkSizes(c);
        c.send(msg.startup({ user: 'app_md5', database: 'app' }));
        const frames = await c.until('Z');
        expect(frames.map((f) => f.type)[0]).toBe('R');
        expect(sizes[0]).toBe(frames.reduce((n, f) => n + f.bytes.length, 0));
      } finally {
        c.destroy();
      }
    }
  });
});
