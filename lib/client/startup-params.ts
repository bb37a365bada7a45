// Owns the rules for a client's StartupMessage parameters: which are remembered and replayed on
// servers, which are ignored (ignore_startup_parameters), and which refuse the login, as PgBouncer;
// and `options`, whose `-c name=value` switches count as the session's settings, as in PostgreSQL.

import type { TrackedParams } from '../server/params';
import { parseStartupOptions } from '../session/settings';

export type StartupDecision =
  | {
      ok: true;
      user: string;
      database: string;
      params: Map<string, string>;
      /** `options` switches for parameters other than the tracked ones (lib/session/settings replays them). */
      settings: ReadonlyMap<string, string>;
    }
  | { ok: false; problem: 'no-user' | 'unsupported'; name: string };

const NO_SETTINGS: ReadonlyMap<string, string> = new Map();

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
  // Made only when `options` sets something: most logins have none.
  let settings: Map<string, string> | null = null;
  const ignore = ignoredSet(ignored);
  for (const [name, value] of raw) {
    if (STRUCTURAL.has(name)) continue;
    if (name === 'options') {
      // -c switches apply as PostgreSQL applies them; anything else (-d 5, -e) is refused unless ignored.
      const switches = parseStartupOptions(value);
      if (switches !== null) {
        for (const [setting, v] of switches) {
          const canonical = tracked.lookup(setting);
          if (canonical !== undefined) params.set(canonical, v);
          else (settings ??= new Map()).set(setting, v);
        }
        continue;
      }
    }
    const canonical = tracked.lookup(name);
    if (canonical !== undefined) {
      params.set(canonical, value);
      continue;
    }
    if (ignore.has(name.toLowerCase())) continue;
    return { ok: false, problem: 'unsupported', name };
  }
  return { ok: true, user, database, params, settings: settings ?? NO_SETTINGS };
}

/** ignore_startup_parameters as a set of lower-case names, made once per setting value (not per login). */
const ignoredSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function ignoredSet(ignored: readonly string[]): ReadonlySet<string> {
  let set = ignoredSets.get(ignored);
  if (set === undefined) {
    set = new Set(ignored.map((s) => s.toLowerCase()));
    ignoredSets.set(ignored, set);
  }
  return set;
}
