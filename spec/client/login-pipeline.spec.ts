// Black-box spec of queries a client sends in the same write as its last login message, when
// the pool already knows its server parameters, so that pgmux sends the welcome while it is
// still reading that write (issue 3, "Startup": a client's first query behind its login).

import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { startMux } from './support/setup';
import { RawClient, authRequest, md5Password, msg, rowsOf } from '../support/wire';

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
