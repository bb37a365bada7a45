// Owns the shapes a loaded config hands to the rest of pgmux: databases, users, the whole Config.

import type { Settings } from './settings';
import type { ReplicaAddress } from './routing';
import type { RuleDef } from './rules';
import type { PeerDef } from './peers';

export type PoolMode = Settings['pool_mode'];

/** One [databases] line. Unset optional fields fall back to [users] / [pgbouncer] values. */
export interface DatabaseDef {
  /** The name clients ask for (the key left of '='); '*' is the fallback entry. */
  name: string;
  /**
   * The database on the server; defaults to `name`. On the '*' entry, unless the line sets
   * dbname, it is '*', meaning "the name the client asked for" (see resolveDatabase).
   */
  dbname: string;
  /** Undefined means a Unix socket in unix_socket_dir; may be a comma-separated host list. */
  host: string | undefined;
  port: number;
  user?: string;
  password?: string;
  authUser?: string;
  poolSize?: number;
  minPoolSize?: number;
  reservePool?: number;
  poolMode?: PoolMode;
  maxDbConnections?: number;
  clientEncoding?: string;
  datestyle?: string;
  timezone?: string;
  applicationName?: string;
  connectQuery?: string;
  /**
   * pgmux only: every candidate primary when host= (or port=) lists more than one, libpq style
   * (`host=a,b port=5432,5433`); host and port above are then the first of them. Undefined for a
   * single-host line, which behaves as in PgBouncer.
   */
  hosts?: { host: string | undefined; port: number }[];
  /** pgmux only: `zones=`, one per host in databaseHosts() order (host= list, then replicas=). */
  zones?: string[];
  /** pgmux only: per-database failover_timeout. */
  failoverTimeout?: number;
  /** pgmux only: streaming replicas of this database (`replicas=host:port@weight,...`). */
  replicas?: ReplicaAddress[];
  /** pgmux only: `route=replica` makes the entry a read-only alias that only ever uses replicas. */
  route?: 'replica';
  /** pgmux only: per-database overrides of the routing settings (see effective.ts). */
  readYourWrites?: Settings['read_your_writes'];
  readYourWritesTimeout?: number;
  readYourWritesKeys?: number;
  maxReplicaLag?: string;
  loadBalance?: Settings['load_balance'];
  writeFunctions?: string[];
  readOnlyFunctions?: string[];
  /** "file:line" of the line that defined it. */
  source: string;
}

/** One [users] line. */
export interface UserDef {
  name: string;
  poolMode?: PoolMode;
  maxUserConnections?: number;
  source: string;
}

export interface Config {
  /** The config file as named on the command line. */
  file: string;
  settings: Settings;
  databases: Map<string, DatabaseDef>;
  users: Map<string, UserDef>;
  /** pgmux only: the [rules] section, in the order rules are tried (lib/rules). Absent: none. */
  rules?: readonly RuleDef[];
  /** The [peers] section by peer_id (PgBouncer 1.19): where cancels for their keys go. Absent: none. */
  peers?: ReadonlyMap<number, PeerDef>;
  /**
   * Settings the file itself set (unset: every one). A RELOAD keeps the running value of a
   * setting PgBouncer has no default for (auth_file, auth_user, verbose) when the file leaves
   * it out, as PgBouncer does: its loader only resets keys that have a default.
   */
  explicit?: ReadonlySet<string>;
}
