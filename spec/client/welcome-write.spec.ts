// Black-box spec of how the welcome reaches a client: AuthenticationOk, the ParameterStatus run,
// BackendKeyData and ReadyForQuery leave pgmux in one write when the pool knows its server
// parameters (a write per message was a system call and a wake-up of the client each, which
// pgbench -C pays at every connection). What the client reads first after its password is the
// whole welcome.

import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { startMux } from './support/setup';
import { RawClient, authRequest, md5Password, msg, type Frame } from '../support/wire';

let cluster: Cluster;
let mux: PgmuxProcess;
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
