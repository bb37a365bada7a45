// Owns how [users] and [databases] lines override [pgbouncer] values, and the "*" fallback
// database: the one place that knows which override wins, so pools never re-derive it.

import type { Settings } from './settings';
import type { Config, DatabaseDef, UserDef } from './types';

/**
 * Which line may override each overridable setting, most specific first. PgBouncer resolves
 * pool_mode user line, then database line, then [pgbouncer] (pool_pool_mode in its pooler).
 */
const OVERRIDES = {
  pool_mode: { user: 'poolMode', db: 'poolMode' },
  default_pool_size: { db: 'poolSize' },
  min_pool_size: { db: 'minPoolSize' },
  reserve_pool_size: { db: 'reservePool' },
  max_db_connections: { db: 'maxDbConnections' },
  max_user_connections: { user: 'maxUserConnections' },
  read_your_writes: { db: 'readYourWrites' },
  read_your_writes_timeout: { db: 'readYourWritesTimeout' },
  read_your_writes_keys: { db: 'readYourWritesKeys' },
  max_replica_lag: { db: 'maxReplicaLag' },
  load_balance: { db: 'loadBalance' },
  write_functions: { db: 'writeFunctions' },
  read_only_functions: { db: 'readOnlyFunctions' },
  failover_timeout: { db: 'failoverTimeout' },
} as const satisfies Record<string, { user?: keyof UserDef; db?: keyof DatabaseDef }>;

export type OverridableSetting = keyof typeof OVERRIDES;

/** A setting's value for one pool: its user line, else its database line, else [pgbouncer]. */
export function effective<N extends OverridableSetting>(
  settings: Settings,
  name: N,
  db: DatabaseDef | undefined,
  user: UserDef | undefined,
): Settings[N] {
  const row: { user?: keyof UserDef; db?: keyof DatabaseDef } = OVERRIDES[name];
  // Each OVERRIDES field holds the same type as its setting (poolMode: PoolMode, counts: number),
  // which the casts below restate; the table is the one place that pairing is written.
  const fromUser = row.user !== undefined && user !== undefined ? user[row.user] : undefined;
  if (fromUser !== undefined) return fromUser as Settings[N];
  const fromDb = row.db !== undefined && db !== undefined ? db[row.db] : undefined;
  if (fromDb !== undefined) return fromDb as Settings[N];
  return settings[name];
}

/**
 * The database a client's name maps to: its own [databases] line, else one made from the "*"
 * line, where dbname (unless that line sets one) is the name the client asked for.
 */
export function resolveDatabase(config: Config, name: string): DatabaseDef | undefined {
  const exact = config.databases.get(name);
  if (exact !== undefined) return exact;
  const fallback = config.databases.get('*');
  if (fallback === undefined) return undefined;
  return { ...fallback, name, dbname: fallback.dbname === '*' ? name : fallback.dbname };
}
