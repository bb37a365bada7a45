// Owns what the end-to-end router specs share: telling which node of the cluster ran a statement
// (by what the node itself reports), and polling a condition with a deadline.

import type { Client, QueryResult } from 'pg';
import type { Cluster } from '../support/cluster';

export type Where = 'primary' | 'replica';

/**
 * A select list that makes a statement report its node: in_hot_standby as `r`, inet_server_port() as
 * `p`. Not pg_is_in_recovery(), which pgmux sends to the primary (it asks which node answers).
 */
export const R = `current_setting('in_hot_standby')::bool AS r, inet_server_port() AS p`;

/** Which node of `cluster` ran `sql`; its last result's first row carries `r` and `p` (see R). */
export async function ranOn(cluster: Cluster, c: Client, sql: string): Promise<Where> {
  const res = (await c.query(sql)) as QueryResult | QueryResult[];
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  const row = last.rows[0] as { r: boolean; p: number };
  const node: Where = row.r ? 'replica' : 'primary';
  // The port proves it is the node we think, not some other server in recovery.
  expect(row.p).toBe(node === 'replica' ? cluster.replica?.port : cluster.primary.port);
  return node;
}

/** Polls `check` until it returns true, or fails with `what` after `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
