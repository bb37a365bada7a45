// Owns how the pool limits of the config are split between workers, so that they hold for the
// whole pgmux: each worker runs with its share of default_pool_size, min_pool_size,
// reserve_pool_size, max_db_connections, max_user_connections and max_client_conn (and of the
// per-database pool_size, min_pool_size, reserve_pool, max_db_connections and the per-user
// max_user_connections).
//
// Share of worker i of n workers for a limit L: floor(L / n), plus one for the first L mod n
// workers, so the shares add up to L exactly. A limit where 0 means "none" or "unlimited"
// (pool sizes, max_*) never gets a share of 0 from a positive L: with L < n every worker gets
// 1 and the whole pgmux may reach n (README, Workers, explains this edge). min_pool_size and
// the reserve may round down to 0 on some workers: those keep no minimum or reserve.

import type { Config, DatabaseDef, Settings, UserDef } from '../config';

/** Settings split between workers; `atLeastOne`: a positive whole never becomes 0. */
const SPLIT_SETTINGS = {
  default_pool_size: true,
  max_client_conn: true,
  max_db_connections: true,
  max_user_connections: true,
  min_pool_size: false,
  reserve_pool_size: false,
} as const satisfies Partial<Record<keyof Settings, boolean>>;

type SplitName = keyof typeof SPLIT_SETTINGS;
const SPLIT_NAMES = Object.keys(SPLIT_SETTINGS) as SplitName[];

/** Worker `index`'s share of `whole` among `count` workers. */
export function share(whole: number, index: number, count: number, atLeastOne: boolean): number {
  if (whole <= 0) return whole;
  const part = Math.floor(whole / count) + (index < whole % count ? 1 : 0);
  return atLeastOne ? Math.max(1, part) : part;
}

export class LimitShare {
  constructor(
    readonly index: number,
    readonly count: number,
  ) {}

  /** The config this worker runs with: `whole` with its share of every limit. */
  split(whole: Config): Config {
    const part = (n: number | undefined, atLeastOne: boolean) => (n === undefined ? undefined : share(n, this.index, this.count, atLeastOne));
    const settings: Record<string, unknown> = { ...whole.settings };
    for (const name of SPLIT_NAMES) settings[name] = share(whole.settings[name], this.index, this.count, SPLIT_SETTINGS[name]);
    const databases = new Map<string, DatabaseDef>();
    for (const [name, db] of whole.databases) {
      databases.set(name, {
        ...db,
        poolSize: part(db.poolSize, true),
        minPoolSize: part(db.minPoolSize, false),
        reservePool: part(db.reservePool, false),
        maxDbConnections: part(db.maxDbConnections, true),
      });
    }
    const users = new Map<string, UserDef>();
    for (const [name, user] of whole.users) users.set(name, { ...user, maxUserConnections: part(user.maxUserConnections, true) });
    // Same keys as the whole config's, only numbers changed: still Settings.
    return { ...whole, settings: settings as unknown as Settings, databases, users };
  }

  /**
   * SET on the console builds its config from the running (split) one: the whole config it
   * means is the previous whole one with the key it set taken as a new whole value.
   */
  unsplit(next: Config, runningWhole: Config, runningSplit: Config): Config {
    const settings: Record<string, unknown> = { ...next.settings };
    for (const name of SPLIT_NAMES) {
      if (next.settings[name] === runningSplit.settings[name]) settings[name] = runningWhole.settings[name];
    }
    return { ...next, settings: settings as unknown as Settings, databases: runningWhole.databases, users: runningWhole.users };
  }
}
