// Black-box spec: psycopg 3 and asyncpg used as applications use them, straight to PostgreSQL and
// through pgmux in transaction mode (default_pool_size = 2), must give the same results line for
// line. Each script (spec/compat/drivers-python/) runs one feature per line and prints
// `name OK <result>` or `name ERR <class> <sqlstate> <message>`:
// - psycopg 3: pipeline mode (with an error inside), executemany with returning, named
//   (server-side) cursors in a transaction, WITH HOLD and scrollable, COPY rows in and out, text
//   and binary, a failing COPY, prepare_threshold default and 0 with prepared_max small (eviction:
//   DEALLOCATE through the extended protocol, also in a pipeline), cancel() and
//   statement_timeout, LISTEN/NOTIFY, TypeInfo/CompositeInfo fetch, binary parameters, a temp
//   table across transactions, savepoints through nested transaction().
// - asyncpg: its statement cache (and statement_cache_size=0, and 300 distinct statements, past
//   its cache of 100), prepare(), cursors in a transaction, copy_records_to_table /
//   copy_from_query / copy_to_table, executemany (also failing half-way), add_listener,
//   set_type_codec, composite types, a timeout (asyncpg cancels), its pool (whose release runs
//   RESET ALL, UNLISTEN *, pg_advisory_unlock_all()), isolation and savepoints, a column added
//   between two fetches.
// What a line says straight to PostgreSQL is the reference; the spec also pins a few of them so
// that it cannot pass by both sides failing alike.

import { startCluster, type Cluster } from '../support/cluster';
import { runScript, startFront, type Front } from '../prepared/support';
import { join } from 'node:path';

jest.setTimeout(120000);

const PYTHON = '/usr/bin/python3';
const USER = 'app';
const SCRIPTS = join(__dirname, 'drivers-python');

let cluster: Cluster;
let front: Front;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'GRANT ALL ON SCHEMA public TO app', 'postgres');
  front = await startFront(cluster, [USER], { ignore_startup_parameters: 'extra_float_digits' });
});

afterAll(async () => {
  await front?.stop();
  await cluster?.stop();
});

/** The script's result lines (drivers' warnings on stderr left out), by feature name. */
async function features(script: string, port: number): Promise<Map<string, string>> {
  const r = await runScript(script, PYTHON, [join(SCRIPTS, script)], { PORT: String(port), USER_NAME: USER, PW: cluster.password }, 100000);
  const out = new Map<string, string>();
  for (const line of r.output.split('\n')) {
    const m = /^(\w+) ((?:OK|ERR) .*)$/.exec(line);
    if (m !== null) out.set(m[1], m[2]);
  }
  return out;
}

describe.each([
  ['psycopg 3', 'psycopg_features.py', { pipeline_err: 'OK (42,)', evict: 'OK 135', evict_pipeline: 'OK [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]', named_cursor_hold: 'OK (5, (7,), 95)', cancel: "OK ('cancelled', '57014', (5,))", notifies: "OK ('chan1', 'hello')" }],
  ['asyncpg', 'asyncpg_features.py', { many_stmts: 'OK 45150', pool_lock: 'OK 0', listener: 'OK p1', cursor_tx: 'OK (1000, 10, 16)', timeout: 'OK 9' }],
])('%s', (_driver, script, pinned) => {
  it('gives through pgmux (transaction mode) what it gives straight to PostgreSQL, feature by feature (catches: any driver feature that breaks behind the pooler)', async () => {
    const direct = await features(script, cluster.primary.port);
    const pooled = await features(script, front.port);
    expect(Object.fromEntries(pooled)).toEqual(Object.fromEntries(direct));
    for (const [name, line] of Object.entries(pinned)) expect(`${name} ${direct.get(name)}`).toBe(`${name} ${line}`);
  });
});
