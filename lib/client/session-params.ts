// Owns the tracked session parameters a client is welcomed with, shared between clients: all
// clients of a pool that sent the same startup parameters get one map (and one run of
// ParameterStatus bytes) instead of a copy each. No client map is ever changed in place: a
// changed value gives the client a new map (lib/client parameterReported), so a server may
// remember which map it was last synced with.

import { parameterStatus } from '../protocol/backend';
import type { TrackedParams } from '../server/params';

export interface SessionWelcome {
  /** Tracked parameters as the client will believe them to be (canonical names). Shared: never change it. */
  readonly params: ReadonlyMap<string, string>;
  /** The welcome's ParameterStatus messages. */
  readonly status: Buffer;
}

/** No parameters (a client before its welcome). */
export const NO_PARAMS: ReadonlyMap<string, string> = new Map();

/** Distinct startup parameter sets kept per pool; past it the cache starts over. */
const MAX_VARIANTS = 64;

/** Per pool (its server parameters' map, set once): welcomes by startup parameters, and the last one handed out. */
interface PoolWelcomes {
  tracked: TrackedParams;
  byStartup: Map<string, SessionWelcome>;
  /** The startup parameters of the last welcome handed out, as [name, value, name, value, ...]. */
  lastStartup: string[];
  last: SessionWelcome | null;
}

const welcomes = new WeakMap<ReadonlyMap<string, string>, PoolWelcomes>();

/**
 * The welcome for a client of the pool with `serverParams` that sent `startup` (tracked, by
 * canonical name): the server's values, with the client's own in place of them, then the
 * client's tracked parameters the server did not report. `serverParams` are the first server's
 * after its connect_query, so a client without a value of its own holds the pool's, which the
 * sync before each statement keeps on whichever server it lands on.
 */
export function sessionParams(serverParams: ReadonlyMap<string, string>, startup: ReadonlyMap<string, string>, tracked: TrackedParams): SessionWelcome {
  let cache = welcomes.get(serverParams);
  // A RELOAD that changes track_extra_parameters brings a new TrackedParams.
  if (cache === undefined || cache.tracked !== tracked) {
    cache = { tracked, byStartup: new Map(), lastStartup: [], last: null };
    welcomes.set(serverParams, cache);
  }
  // Clients of a pool mostly come from one application with one set of parameters: the last
  // welcome is checked first, by comparing values, without building the key string (1.6 % of
  // pgmux's user CPU under pgbench -C was building and hashing it).
  if (cache.last !== null && sameStartup(cache.lastStartup, startup)) return cache.last;
  let key = '';
  for (const [name, value] of startup) key += `${name}\0${value}\0`;
  let welcome = cache.byStartup.get(key);
  if (welcome === undefined) {
    welcome = build(serverParams, startup, tracked);
    if (cache.byStartup.size >= MAX_VARIANTS) cache.byStartup.clear();
    cache.byStartup.set(key, welcome);
  }
  const last: string[] = [];
  for (const [name, value] of startup) last.push(name, value);
  cache.lastStartup = last;
  cache.last = welcome;
  return welcome;
}

/** Whether `startup` holds exactly the pairs of `pairs` ([name, value, ...]), in the same order (as the key would). */
function sameStartup(pairs: readonly string[], startup: ReadonlyMap<string, string>): boolean {
  if (pairs.length !== startup.size * 2) return false;
  let i = 0;
  for (const [name, value] of startup) {
    if (pairs[i] !== name || pairs[i + 1] !== value) return false;
    i += 2;
  }
  return true;
}

function build(serverParams: ReadonlyMap<string, string>, startup: ReadonlyMap<string, string>, tracked: TrackedParams): SessionWelcome {
  const params = new Map<string, string>();
  const out: Buffer[] = [];
  for (const [name, value] of serverParams) {
    const canonical = tracked.lookup(name);
    const mine = canonical !== undefined ? startup.get(canonical) : undefined;
    const v = mine ?? value;
    if (canonical !== undefined) params.set(canonical, v);
    out.push(parameterStatus(name, v));
  }
  // Tracked parameters the server did not report (e.g. a track_extra_parameters entry).
  for (const [name, value] of startup) {
    if (!params.has(name)) {
      params.set(name, value);
      out.push(parameterStatus(name, value));
    }
  }
  return { params, status: Buffer.concat(out) };
}
