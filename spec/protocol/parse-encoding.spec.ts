// Black-box spec of Parse text that is not valid UTF-8 in transaction mode, where pgmux tracks
// named statements by their decoded text and prepares them on servers itself. Decoding such bytes
// is lossy (every invalid byte becomes U+FFFD), so a LATIN1 client's 'caf\xe9' must reach
// PostgreSQL as those bytes (not rebuilt as 'caf\xef\xbf\xbd'), and two different invalid names
// must not meet as one. A bystander's open transaction goes on untouched.

import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { bystanderInTransaction } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { isAlive } from '../support/procs';
import { cstr, frame, i16, i32 } from '../support/bytes';
import { RawClient, errorFields, msg, type Frame } from '../support/wire';
import { startMux } from '../client/support/setup';

let cluster: Cluster;
let mux: PgmuxProcess;
/** In an open transaction (BEGIN; INSERT) for the whole file. */
let bystander: Client;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE bystander (n int)', 'app');
  mux = await startMux(cluster);
  bystander = await bystanderInTransaction(mux.port, cluster.password);
});

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

afterEach(async () => {
  expect(isAlive(mux.pid)).toBe(true);
  expect((await bystander.query('SELECT count(*)::int AS n FROM bystander')).rows).toEqual([{ n: 1 }]);
});

/** Parse of raw name and text bytes (no decoding on the way). */
const rawParse = (name: Buffer, sql: Buffer): Buffer => frame('P', name, Buffer.from([0]), sql, Buffer.from([0]), i16(0));
const bindExecute = (name: Buffer): Buffer =>
  Buffer.concat([frame('B', cstr(''), name, Buffer.from([0]), i16(0), i16(0), i16(0)), frame('E', cstr(''), i32(0))]);

/** The first column's bytes of the first DataRow. */
function firstValue(frames: readonly Frame[]): Buffer {
  const row = frames.find((f) => f.type === 'D');
  if (row === undefined) throw new Error(`no DataRow in ${frames.map((f) => f.type).join('')}: ${frames.filter((f) => f.type === 'E').map((f) => errorFields(f.body).M).join()}`);
  const length = row.body.readInt32BE(2);
  return row.body.subarray(6, 6 + length);
}

it("keeps a LATIN1 client's named statement byte for byte (catches: a lossy UTF-8 decode rebuilding 'café' as 'cafï¿½')", async () => {
  const conn = await RawClient.open(mux.port);
  try {
    await conn.login(msg.startup({ user: 'app', database: 'app', client_encoding: 'LATIN1' }), 'app', cluster.password);
    const cafe = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // 'café' in LATIN1, not valid UTF-8
    const sql = Buffer.concat([Buffer.from("SELECT '"), cafe, Buffer.from("'::text")]);
    const frames = await conn.roundTrip(rawParse(Buffer.from('s1'), sql), bindExecute(Buffer.from('s1')), msg.sync());
    expect(firstValue(frames).toString('hex')).toBe(cafe.toString('hex'));
    // The connection goes on.
    expect((await conn.roundTrip(msg.query('SELECT 1'))).map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
  } finally {
    conn.destroy();
  }
});

it('refuses statement names that are not UTF-8 as PostgreSQL does, each on its own (catches: \\xff and \\xfe meeting as one U+FFFD name)', async () => {
  const conn = await RawClient.login(mux.port, 'app', cluster.password);
  try {
    for (const name of [Buffer.from([0xff]), Buffer.from([0xfe])]) {
      const frames = await conn.roundTrip(rawParse(name, Buffer.from('SELECT 1')), msg.sync());
      const error = frames.find((f) => f.type === 'E');
      expect(error === undefined ? frames.map((f) => f.type).join('') : errorFields(error.body)).toMatchObject({ S: 'ERROR', C: '22021' });
    }
    expect((await conn.roundTrip(msg.query('SELECT 1'))).map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
  } finally {
    conn.destroy();
  }
});
