// Owns the rules for a client's StartupMessage parameters: which are remembered and replayed on
// servers, which are ignored (ignore_startup_parameters), and which refuse the login, as PgBouncer.

import type { TrackedParams } from '../server/params';

export type StartupDecision =
  | { ok: true; user: string; database: string; params: Map<string, string> }
  | { ok: false; problem: 'no-user' | 'unsupported'; name: string };

/** Parameters that are not settings and never reach a server from the startup packet. */
const STRUCTURAL = new Set(['user', 'database']);

export function decideStartup(
  raw: ReadonlyMap<string, string>,
  tracked: TrackedParams,
  ignored: readonly string[],
): StartupDecision {
  const user = raw.get('user');
  if (user === undefined || user === '') return { ok: false, problem: 'no-user', name: 'user' };
  const database = raw.get('database') || user;
  const params = new Map<string, string>();
  const ignore = new Set(ignored.map((s) => s.toLowerCase()));
  for (const [name, value] of raw) {
    if (STRUCTURAL.has(name)) continue;
    const canonical = tracked.lookup(name);
    if (canonical !== undefined) {
      params.set(canonical, value);
      continue;
    }
    if (ignore.has(name.toLowerCase())) continue;
    return { ok: false, problem: 'unsupported', name };
  }
  return { ok: true, user, database, params };
}
