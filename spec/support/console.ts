// Owns asking pgmux's admin console (database "pgbouncer") one command from a spec: connect,
// run it, disconnect, rows as plain objects.

import { Client } from 'pg';

/** The rows of one admin-console command, as `user` (an admin_users entry) with `password`. */
export async function consoleRows(port: number, user: string, password: string | undefined, command: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ host: '127.0.0.1', port, user, password, database: 'pgbouncer' });
  await c.connect();
  try {
    return (await c.query(command)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}
