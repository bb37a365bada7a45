// Side by side with PgBouncer 1.18: BEGIN in statement pooling mode. PgBouncer disconnects the
// client when the server's ReadyForQuery says a transaction is open, before it writes that
// answer, so the client reads one frame: the FATAL "transaction blocks not allowed in statement
// pooling mode". pgmux forwarded BEGIN's CommandComplete (and the extended protocol's
// ParseComplete and BindComplete) first, so a driver saw its BEGIN succeed, then the connection
// end. The same bytes go to both poolers; the frames each client reads up to the close must match.

import type { PgBouncerProcess } from '../support/pgbouncer';
import type { PgmuxProcess } from '../support/pgmux';
import { startSideBySide, type SideBySide } from '../support/side-by-side';
import { RawClient, errorFields } from '../support/wire';
import { cstr, frame, i16, i32 } from '../support/bytes';

jest.setTimeout(60000);

function ini(listenPort: number, serverPort: number): string {
  return `[databases]
stmt = host=127.0.0.1 port=${serverPort} dbname=app pool_mode=statement pool_size=2
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${listenPort}
unix_socket_dir =
auth_type = trust
auth_file = userlist.txt
logfile = pooler.log
`;
}

const query = (sql: string): Buffer => frame('Q', cstr(sql));
const extended = (sql: string): Buffer[] => [
  frame('P', cstr(''), cstr(sql), i16(0)),
  frame('B', cstr(''), cstr(''), i16(0), i16(0), i16(0)),
  frame('E', cstr(''), i32(0)),
  frame('S'),
];

describe('BEGIN in statement pooling mode', () => {
  let both: SideBySide | undefined;
  let bouncer: PgBouncerProcess;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    both = await startSideBySide(ini);
    ({ bouncer, mux } = both);
  });

  afterAll(async () => {
    await both?.stop();
  });

  /** The frames a client reads after sending `bytes`, through the close: type letters, and an error's severity, code and message. */
  async function answer(port: number, bytes: Buffer[]): Promise<string[]> {
    const c = await RawClient.login(port, 'app', '', 'stmt');
    c.send(...bytes);
    const { frames } = await c.untilClosed(5000);
    return frames.map((f) => {
      if (f.type !== 'E') return f.type;
      const e = errorFields(f.body);
      return `E ${e.S} ${e.C} ${e.M}`;
    });
  }

  const REFUSAL = 'E FATAL 08P01 transaction blocks not allowed in statement pooling mode';

  it('a simple-Query BEGIN gets only the FATAL, as through PgBouncer (catches: BEGIN\'s CommandComplete before the refusal)', async () => {
    const expected = await answer(bouncer.port, [query('BEGIN')]);
    expect(expected).toEqual([REFUSAL]);
    expect(await answer(mux.port, [query('BEGIN')])).toEqual(expected);
  });

  it('START TRANSACTION pipelined after a statement: that statement\'s answer, then only the FATAL (catches: the refusal dropping answers already due)', async () => {
    const bytes = [query('SELECT 1'), query('START TRANSACTION READ ONLY')];
    // PgBouncer ends with the same FATAL, but when both answers come in one read from the
    // server it drops the SELECT's too (it disconnects before writing what it holds): not
    // compared, pgmux always delivers an answer that is complete.
    expect((await answer(bouncer.port, bytes)).pop()).toBe(REFUSAL);
    for (let i = 0; i < 5; i++) expect(await answer(mux.port, bytes)).toEqual(['T', 'D', 'C', 'Z', REFUSAL]);
  });

  it('BEGIN through the extended protocol gets only the FATAL too (catches: ParseComplete, BindComplete and the tag before the refusal)', async () => {
    const expected = await answer(bouncer.port, extended('BEGIN'));
    expect(expected).toEqual([REFUSAL]);
    expect(await answer(mux.port, extended('BEGIN'))).toEqual(expected);
  });
});
