// Side by side with PgBouncer 1.18: query_timeout counts from a client's first message of a
// request, Sync or not. A client that sends Parse, Bind and Execute (or ends them with Flush) and
// then never sends Sync holds its server linked while the server waits for the rest. PgBouncer
// starts a query's clock at its first packet and ends the client after query_timeout; pgmux
// started it only at Query or Sync, so such a client (a driver bug, a client that died mid-batch
// behind a NAT that never resets) held its server forever and every other client of the pool
// (pool_size = 1 here) waited for query_wait_timeout.

import type { PgBouncerProcess } from '../support/pgbouncer';
import type { PgmuxProcess } from '../support/pgmux';
import { startSideBySide, type SideBySide } from '../support/side-by-side';
import { RawClient, errorFields, type Frame } from '../support/wire';
import { cstr, frame, i16, i32 } from '../support/bytes';

jest.setTimeout(60000);

const parse = (sql: string): Buffer => frame('P', cstr(''), cstr(sql), i16(0));
const bind = (): Buffer => frame('B', cstr(''), cstr(''), i16(0), i16(0), i16(0));
const execute = (): Buffer => frame('E', cstr(''), i32(0));
const flush = (): Buffer => frame('H');

function ini(listenPort: number, serverPort: number): string {
  return `[databases]
app = host=127.0.0.1 port=${serverPort} dbname=app pool_size=1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${listenPort}
unix_socket_dir =
auth_type = trust
auth_file = userlist.txt
pool_mode = transaction
query_timeout = 1
query_wait_timeout = 30
logfile = pooler.log
`;
}

describe('query_timeout for a request without Sync', () => {
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

  /** What a client that stops before Sync gets, how long after, and what the next client's query gets on the pool's one server. */
  async function stalled(port: number, tail: Buffer[]): Promise<{ frames: string[]; message: string | undefined; ms: number; next: string }> {
    const c = await RawClient.login(port, 'app', '', 'app');
    const sent = Date.now();
    c.send(parse('SELECT 1 AS one'), bind(), execute(), ...tail);
    const { frames } = await c.untilClosed(10000);
    const ms = Date.now() - sent;
    const error = frames.find((f: Frame) => f.type === 'E');
    // (A client queued meanwhile would be ended too: PgBouncer's query_timeout counts for waiting clients.)
    const other = await RawClient.login(port, 'app', '', 'app');
    const next = (await other.roundTrip(frame('Q', cstr('SELECT 2 AS two')))).map((f) => f.type).join('');
    await other.close();
    return { frames: frames.map((f) => f.type), message: error === undefined ? undefined : errorFields(error.body).M, ms, next };
  }

  it('Parse, Bind, Execute and silence: ended with "query timeout" after query_timeout, as PgBouncer does, and the next client gets the server (catches: a server held forever by a client that never sends Sync)', async () => {
    const expected = await stalled(bouncer.port, []);
    const actual = await stalled(mux.port, []);
    expect(expected).toMatchObject({ frames: ['E'], message: 'query timeout', next: 'TDCZ' });
    expect(actual).toMatchObject({ frames: expected.frames, message: expected.message, next: expected.next });
    expect(actual.ms).toBeGreaterThanOrEqual(1000);
    expect(actual.ms).toBeLessThan(4000);
  });

  it('Parse, Bind, Execute, Flush: the results, then the same end (catches: the clock started only at Sync)', async () => {
    const expected = await stalled(bouncer.port, [flush()]);
    const actual = await stalled(mux.port, [flush()]);
    expect(expected).toMatchObject({ frames: ['1', '2', 'D', 'C', 'E'], message: 'query timeout', next: 'TDCZ' });
    expect(actual).toMatchObject({ frames: expected.frames, message: expected.message, next: expected.next });
    expect(actual.ms).toBeLessThan(4000);
  });
});
