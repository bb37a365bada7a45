// Owns the rules for a client's StartupMessage parameters: which are remembered and replayed on
// servers (tracked), which are ignored (ignore_startup_parameters, as PgBouncer), and which are
// the session's settings: `options`' `-c name=value` switches and every other parameter, as
// PostgreSQL reads a startup packet (a parameter is a `-c` switch there). `replication` and an
// `options` holding another switch refuse the login, as PgBouncer.

import type { TrackedParams } from '../server/params';
import { parseStartupOptions } from '../session/settings';

export type StartupDecision =
  | {
      ok: true;
      user: string;
      database: string;
      params: Map<string, string>;
      /** Settings other than the tracked ones, from `options` switches and bare parameters (lib/session/settings replays them). */
      settings: ReadonlyMap<string, string>;
    }
  | { ok: false; problem: 'no-user' | 'unsupported'; name: string };

const NO_SETTINGS: ReadonlyMap<string, string> = new Map();

/** Parameters that are not settings and never reach a server from the startup packet (`options` is read first). */
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
  // Made only when something is set: most logins set nothing.
  let settings: Map<string, string> | null = null;
  const ignore = ignoredSet(ignored);
  // `options` first, as PostgreSQL applies it before the other parameters, which win over its switches.
  const options = raw.get('options');
  if (options !== undefined) {
    // -c switches apply as PostgreSQL applies them; anything else (-d 5, -e) is refused unless ignored.
    const switches = parseStartupOptions(options);
    if (switches !== null) {
      for (const [setting, v] of switches) {
        const canonical = tracked.lookup(setting);
        if (canonical !== undefined) params.set(canonical, v);
        else (settings ??= new Map()).set(setting, v);
      }
    } else if (!ignore.has('options')) return { ok: false, problem: 'unsupported', name: 'options' };
  }
  for (const [name, value] of raw) {
    if (STRUCTURAL.has(name) || name === 'options') continue;
    const canonical = tracked.lookup(name);
    if (canonical !== undefined) {
      params.set(canonical, value);
      continue;
    }
    if (ignore.has(name.toLowerCase())) continue;
    if (name === 'replication') return { ok: false, problem: 'unsupported', name };
    // Any other parameter is a setting, as `-c name=value` (PostgreSQL's name matching: any case,
    // no '-' for '_'). One the server refuses (unknown, bad value) fails the client's first
    // request with PostgreSQL's SQLSTATE and words (refusals.startupSettingRefused).
    (settings ??= new Map()).set(name.toLowerCase(), value);
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
