// Side-by-side with the real PgBouncer 1.18: the same ini file is loaded by PgBouncer (read back
// through its admin console's SHOW CONFIG) and by loadConfig, and every row must agree on the
// default, the changeable flag and the value as printed.

import { Client } from 'pg';
import * as path from 'node:path';
import { findSetting, loadConfig, showConfigRows, type Config, type ShowConfigRow } from '../../lib/config';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { freePort } from '../support/ports';

/** Starts PgBouncer on `body`, returns its SHOW CONFIG and pgmux's reading of the same file. */
async function bothRead(body: (port: number) => string, files: Record<string, string> = {}): Promise<{ rows: ShowConfigRow[]; config: Config }> {
  const port = await freePort();
  let bouncer: PgBouncerProcess | undefined;
  const client = new Client({ host: '127.0.0.1', port, user: 'admin', database: 'pgbouncer' });
  try {
    bouncer = await startPgBouncer(body(port), files);
    await client.connect();
    const result = await client.query<ShowConfigRow>('SHOW CONFIG');
    // Loaded while PgBouncer's dir exists, from the very path PgBouncer was given, so conffile agrees.
    const config = loadConfig(path.join(bouncer.dir, 'pgbouncer.ini'));
    return { rows: result.rows, config };
  } finally {
    await client.end().catch(() => undefined);
    await bouncer?.stop();
  }
}

const BASE = (port: number) =>
  ['[databases]', '[pgbouncer]', 'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =', 'auth_type = any'].join('\n');

/** pgmux's SHOW CONFIG rows, without the pgmux-only extensions PgBouncer 1.18 lacks. */
function ourRows(config: Config): ShowConfigRow[] {
  return showConfigRows(config.settings).filter((r) => !findSetting(r.key)?.help.startsWith('pgmux only'));
}

describe('PgBouncer 1.18 and pgmux read the same ini the same way', () => {
  it('has the same keys, defaults, changeable flags and values for a minimal config', async () => {
    const { rows, config } = await bothRead((port) => `${BASE(port)}\n`);
    expect(ourRows(config)).toEqual(rows);
  });

  /** Non-default spellings: hex and octal ints, %g times, enum case, verbatim strings. */
  it('prints the same values for non-default settings', async () => {
    const lines = [
      'admin_users = admin,ops',
      'stats_users = stats',
      'listen_backlog = 0x10',
      'unix_socket_mode = 0700',
      'pool_mode = Transaction',
      'max_client_conn = 50',
      'default_pool_size = 7',
      'reserve_pool_timeout = 2.5',
      'server_lifetime = 0.001',
      'query_timeout = 100000000',
      'client_idle_timeout = 1e-7',
      'server_idle_timeout = 1.23456789',
      'query_wait_timeout = .5',
      'log_connections = 0',
      'server_check_query =',
      'ignore_startup_parameters = extra_float_digits,options',
      'server_reset_query = DISCARD ALL ; # kept',
      'tcp_keepidle = 7',
      'max_packet_size = 65536',
      'job_name = 0777',
      'verbose = 1',
      'server_tls_sslmode = Prefer',
      'auth_file = userlist.txt',
    ];
    const { rows, config } = await bothRead((port) => `${BASE(port)}\n${lines.join('\n')}\n`, {
      'userlist.txt': '"admin" "secret"\n',
    });
    expect(ourRows(config)).toEqual(rows);
    expect(config.settings.unix_socket_mode).toBe(0o700);
    expect(config.settings.query_timeout).toBe(1e8);
  });
});
