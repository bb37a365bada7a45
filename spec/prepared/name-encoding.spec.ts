// Black-box spec: statement names that are not valid in the client's encoding. PostgreSQL
// converts every name a client sends from client_encoding and, with UTF8 (every driver's
// default), refuses bytes that are not UTF-8 with 22021 `invalid byte sequence for encoding
// "UTF8": 0x..`, in order, skipping to Sync. pgmux decodes names as UTF-8 with replacement
// characters: it accepted such a Parse, and two different invalid names (\xff, \xfe) became one
// name, so a Bind of one ran the other's statement.
//
// Each script runs straight to PostgreSQL and through pgmux (transaction mode), and the two
// transcripts must be equal; each test also pins PostgreSQL's own.

import { both, fe, sideBySide } from './support';

jest.setTimeout(30000);

const env = sideBySide('app_md5');

/** A message whose payload is `parts`, a name in it given as raw bytes. */
function frame(type: string, ...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeInt32BE(payload.length + 4);
  return Buffer.concat([Buffer.from(type, 'latin1'), len, payload]);
}

const z = (b: Buffer): Buffer => Buffer.concat([b, Buffer.from([0])]);
const text = (s: string): Buffer => z(Buffer.from(s, 'utf8'));

/** Parse of `sql` under the raw name `name`, no parameter types. */
const parseRaw = (name: Buffer, sql: string): Buffer => frame('P', z(name), text(sql), Buffer.from([0, 0]));
/** Bind of the raw statement name `name` into the unnamed portal, no parameters. */
const bindRaw = (name: Buffer): Buffer => frame('B', text(''), z(name), Buffer.from([0, 0, 0, 0, 0, 0]));

/** Close of the raw statement name `name`. */
const closeRaw = (name: Buffer): Buffer => frame('C', Buffer.from('S'), z(name));

const BAD_FF = 'E ERROR 22021 invalid byte sequence for encoding "UTF8": 0xff';

describe('a statement name that is not valid UTF-8 from a UTF8 client', () => {
  it('Parse gets 22021 and the rest of the batch is skipped to Sync (catches: pgmux accepting the name PostgreSQL refuses)', async () => {
    const { pg, mux } = await env.pair(false);
    const got = await both(pg, mux, [
      [[parseRaw(Buffer.from([0x73, 0xff]), "SELECT 'one' AS v"), fe.bind('x'), fe.execute(), fe.sync()], 1],
      [[fe.query("SELECT 'after' AS v")], 1],
    ]);
    expect(got).toEqual([BAD_FF, 'Z I', 'T v', 'D ["after"]', 'C SELECT 1', 'Z I']);
  });

  it('two different invalid names never run each other\'s statement (catches: names decoded with replacement characters colliding)', async () => {
    const { pg, mux } = await env.pair(false);
    const got = await both(pg, mux, [
      [[parseRaw(Buffer.from([0xff]), "SELECT 'ff' AS v"), fe.sync()], 1],
      [[parseRaw(Buffer.from([0xfe]), "SELECT 'fe' AS v"), fe.sync()], 1],
      [[bindRaw(Buffer.from([0xfe])), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual([BAD_FF, 'Z I', 'E ERROR 22021 invalid byte sequence for encoding "UTF8": 0xfe', 'Z I', 'E ERROR 22021 invalid byte sequence for encoding "UTF8": 0xfe', 'Z I']);
  });

  it('a Parse of a text some server already parsed, from a client with no server, still gets 22021, and so does a Close (catches: the Parse answered by pgmux itself, the Close faked)', async () => {
    const { pg, mux } = await env.pair(false);
    const sql = "SELECT 'known' AS v";
    const got = await both(pg, mux, [
      [[fe.parse('known', sql), fe.sync()], 1],
      [[parseRaw(Buffer.from([0x6b, 0xff]), sql), fe.sync()], 1],
      [[closeRaw(Buffer.from([0xff])), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', 'Z I', BAD_FF, 'Z I', BAD_FF, 'Z I']);
  });
});
