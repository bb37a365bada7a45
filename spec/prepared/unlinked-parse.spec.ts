// Black-box spec of lib/prepared/unlinked-parse (issue 11, item 2): a client no server is linked
// to that sends only Parses of statements some server has parsed without error, then Sync (or
// Flush), is answered by pgmux itself; the statement reaches a server when a Bind needs it there.
// libpq's PQprepare (pgbench -M prepared) prepares so, synchronously; waiting for a server there
// deadlocks a pgbench thread whose other clients hold every server (drivers.spec has pgbench).
//
// "Without a server" is shown by holding both servers of the pool (default_pool_size = 2) in
// open transactions while the client prepares: the answer can only come from pgmux. What the
// servers parsed is read from PostgreSQL's log (the roles here log every statement).

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { createLoggedRoles, errorFields, eventsWith, fe, logged, RawClient, startFront, Swapper, type Frame, type Front } from './support';

jest.setTimeout(30000);

const USER = 'u_local';

let cluster: Cluster;
let front: Front;
const raws: RawClient[] = [];
const holders: Client[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await createLoggedRoles(cluster, [USER]);
  await cluster.query(cluster.primary, `CREATE TABLE doomed (id int); GRANT ALL ON doomed TO ${USER}`, 'postgres', 'app');
  front = await startFront(cluster, [USER]);
});

afterEach(async () => {
  await release();
  await Promise.all(raws.splice(0).map((r) => r.close().catch(() => undefined)));
});

afterAll(async () => {
  await front?.stop();
  await cluster?.stop();
});

async function raw(): Promise<RawClient> {
  const c = await RawClient.login(front.port, USER);
  raws.push(c);
  return c;
}

/** Both servers of the pool taken by clients in open transactions. */
async function holdBothServers(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const c = await front.connect(USER);
    await c.query('BEGIN');
    await c.query('SELECT 1');
    holders.push(c);
  }
}

async function release(): Promise<void> {
  for (const c of holders.splice(0)) await c.query('COMMIT').catch(() => undefined);
}

const show = (frames: readonly Frame[]): string[] =>
  frames.map((f) => (f.type === 'Z' ? `Z ${String.fromCharCode(f.body[0])}` : f.type === 'E' ? `E ${errorFields(f.body).C}` : f.type));

/** Frames up to ReadyForQuery, given less time than query_wait_timeout would need. */
async function answer(c: RawClient, ...bytes: Buffer[]): Promise<string[]> {
  c.send(...bytes);
  const out: Frame[] = [];
  for (;;) {
    const f = await c.next(5000);
    out.push(f);
    if (f.type === 'Z') return show(out);
  }
}

describe('a Parse of a statement pgmux knows to be good, while no server is linked', () => {
  it('is answered by pgmux while every server is held: ParseComplete, ReadyForQuery I; the statement then runs (catches: a synchronous prepare waiting for a server, the pgbench deadlock)', async () => {
    const text = "SELECT 'local_sync' AS v, $1::int AS n";
    const first = await raw();
    // The first Parse of the text goes to a server: it is known good only after that.
    expect(await answer(first, fe.parse('s', text), fe.sync())).toEqual(['1', 'Z I']);
    await holdBothServers();
    const c = await raw();
    expect(await answer(c, fe.parse('mine', text), fe.sync())).toEqual(['1', 'Z I']);
    expect(await answer(c, fe.parse('also', text), fe.parse('again', text), fe.sync())).toEqual(['1', '1', 'Z I']);
    await release();
    for (const name of ['mine', 'also', 'again']) expect(await answer(c, fe.bind(name, ['7']), fe.execute(), fe.sync())).toEqual(['2', 'D', 'C', 'Z I']);
    // One Parse by a server for the client that parsed it first; the rest were pgmux's, or injected ahead of a Bind.
    const parses = (await logged(cluster, 'local_sync', 'parse', 1)).filter((e) => e.name.startsWith('pgmux_'));
    expect(parses.length).toBeLessThanOrEqual(2);
  });

  it('then Flush: ParseComplete alone, and the Bind that follows runs (catches: a ReadyForQuery the client did not ask for)', async () => {
    const text = "SELECT 'local_flush' AS v";
    await answer(await raw(), fe.parse('s', text), fe.sync());
    await holdBothServers();
    const c = await raw();
    c.send(fe.parse('f', text), fe.flush());
    expect(show([await c.next(5000)])).toEqual(['1']);
    await release();
    expect(await answer(c, fe.bind('f'), fe.execute(), fe.sync())).toEqual(['2', 'D', 'C', 'Z I']);
  });

  it('the first Parse of a text goes to a server, so bad SQL gets PostgreSQL\'s error, and a name the client holds gets 42P05 (catches: pgmux answering for text no server checked)', async () => {
    const c = await raw();
    expect(await answer(c, fe.parse('bad', 'SELEC 1'), fe.sync())).toEqual(['E 42601', 'Z I']);
    expect(await answer(c, fe.parse('bad', 'SELEC 1'), fe.sync())).toEqual(['E 42601', 'Z I']);
    expect(await answer(c, fe.parse('ok', "SELECT 'local_dup'"), fe.sync())).toEqual(['1', 'Z I']);
    expect(await answer(c, fe.parse('ok', "SELECT 'local_dup'"), fe.sync())).toEqual(['E 42P05', 'Z I']);
    // Both bad Parses reached a server (a failed one leaves nothing known good).
    expect(eventsWith(cluster, 'syntax error at or near "SELEC"').filter((e) => e.kind === 'error')).toHaveLength(2);
  });

  it('inside a transaction goes to the client\'s server and reports its status (catches: ReadyForQuery I in the middle of a transaction)', async () => {
    const text = "SELECT 'local_tx' AS v";
    await answer(await raw(), fe.parse('s', text), fe.sync());
    const c = await raw();
    expect(await answer(c, fe.query('BEGIN'))).toEqual(['C', 'Z T']);
    expect(await answer(c, fe.parse('t', text), fe.sync())).toEqual(['1', 'Z T']);
    expect(await answer(c, fe.bind('t'), fe.execute(), fe.sync())).toEqual(['2', 'D', 'C', 'Z T']);
    expect(await answer(c, fe.query('COMMIT'))).toEqual(['C', 'Z I']);
  });

  it('after the table under it is dropped: answered, then the Bind gets the server\'s error, and the next Parse of it goes to a server again (catches: a statement known good forever)', async () => {
    const text = 'SELECT id FROM doomed';
    // The first Parse runs beside the holder, which then moves onto that server: the client under
    // test gets the other one, which never parsed the text.
    const sw = await Swapper.start(front, USER);
    try {
      expect(await answer(await raw(), fe.parse('s', text), fe.sync())).toEqual(['1', 'Z I']);
      await sw.swap();
      await cluster.query(cluster.primary, 'DROP TABLE doomed', 'postgres', 'app');
      const c = await raw();
      expect(await answer(c, fe.parse('d', text), fe.sync())).toEqual(['1', 'Z I']);
      // pgmux's Parse ahead of the Bind fails there: the error PostgreSQL would have given the Parse.
      expect(await answer(c, fe.bind('d'), fe.execute(), fe.sync())).toEqual(['E 42P01', 'Z I']);
      expect(await answer(c, fe.parse('e', text), fe.sync())).toEqual(['E 42P01', 'Z I']);
    } finally {
      await sw.stop();
    }
  });
});
