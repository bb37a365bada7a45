// Owns what the session-settings specs share: forcing a client's next transaction onto the other
// server of a two-server pool, and reading a client's settings as its server has them.

import type { Client } from 'pg';

export { createRoles, Observer, outcome, pidOf, runPgmux, waitFor, type Running } from '../pool/support';

/** The settings the specs look at, as the server a query ran on has them. */
export interface Seen {
  pid: number;
  search_path: string;
  statement_timeout: string;
  tenant: string | null;
  work_mem: string;
}

export const SEEN_SQL =
  "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout, " +
  "nullif(current_setting('myapp.tenant', true), '') AS tenant, current_setting('work_mem') AS work_mem";

export async function seen(client: Client): Promise<Seen> {
  const r = await client.query<Seen>(SEEN_SQL);
  return r.rows[0]!;
}

/**
 * What `client` sees on the other server of the pool (default_pool_size = 2): `holder` sits in a
 * transaction on the server `client` used last, so the client's next request can only get the
 * other one. Checks that it did.
 */
export async function seenElsewhere(client: Client, holder: Client): Promise<Seen> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const last = (await seen(client)).pid;
    await holder.query('BEGIN');
    const held = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    if (held !== last) {
      await holder.query('COMMIT');
      continue;
    }
    try {
      const s = await seen(client);
      if (s.pid === last) throw new Error('the client did not move to the other server');
      return s;
    } finally {
      await holder.query('COMMIT');
    }
  }
  throw new Error('could not hold the server the client used last');
}
