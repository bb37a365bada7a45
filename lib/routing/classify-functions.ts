// Owns how a called function is judged for routing: the built-in write list, the session pins
// some built-ins create, the `write_functions` / `read_only_functions` settings and the
// per-database volatility lookup, in that order.

import { BUILTIN_READ_ONLY } from './classify-builtins';
import { Pin, type ClassifyOptions } from './classify-types';

/** How a function call affects the route. */
export const Fn = {
  /** Cannot write: built-in read-only, listed read-only, or known not volatile. */
  safe: 0,
  /** Writes or needs the primary: the built-in list and `write_functions`. */
  write: 1,
  /** A user function whose provolatile is 'v'. */
  volatile: 2,
  /** Nothing says: the primary, and reported in unknownFunctions. */
  unknown: 3,
} as const;
export type FnKind = (typeof Fn)[keyof typeof Fn];

/**
 * Built-ins that write, take locks, change session state, assign a transaction id, or fail on a
 * hot standby ("recovery is in progress"). Matched by name in any schema, so a user function
 * with the same name is treated the same way: the safe direction.
 */
const BUILTIN_WRITE: ReadonlySet<string> = new Set([
  'nextval', 'setval', 'currval', 'lastval', 'setseed',
  'txid_current', 'txid_current_if_assigned', 'pg_current_xact_id', 'pg_current_xact_id_if_assigned',
  'pg_current_wal_lsn', 'pg_current_wal_insert_lsn', 'pg_current_wal_flush_lsn',
  'pg_walfile_name', 'pg_walfile_name_offset', 'pg_switch_wal',
  'set_config', 'pg_notify',
  'loread', 'lowrite',
  'pg_promote', 'pg_wal_replay_pause', 'pg_wal_replay_resume',
  'pg_reload_conf', 'pg_rotate_logfile', 'pg_rotate_logfile_old',
  'pg_terminate_backend', 'pg_cancel_backend', 'pg_log_backend_memory_contexts',
  'pg_backup_start', 'pg_backup_stop', 'pg_start_backup', 'pg_stop_backup',
  'pg_export_snapshot', 'pg_import_system_collations', 'pg_nextoid',
  'pg_replication_slot_advance', 'pg_extension_config_dump',
  'brin_summarize_new_values', 'brin_summarize_range', 'brin_desummarize_range', 'gin_clean_pending_list',
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
  'dblink_exec',
]);

/** Name prefixes of built-in families that all write or take locks. */
const BUILTIN_WRITE_PREFIXES = [
  'lo_', 'pg_advisory_', 'pg_try_advisory_', 'pg_stat_reset', 'binary_upgrade_', 'pg_replication_origin_',
  'pg_create_', 'pg_drop_', 'pg_copy_', 'pg_logical_',
] as const;

/** Session-level advisory locks: held after the transaction ends, so they pin the session. */
const SESSION_LOCKS: ReadonlySet<string> = new Set([
  'pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock', 'pg_try_advisory_lock_shared',
]);
const UNLOCK_ALL = 'pg_advisory_unlock_all';
export const SET_CONFIG = 'set_config';

/**
 * Functions whose pins depend on where and how they are called: the lexer leaves statements
 * calling them to the parser, which sees the arguments (set_config's is_local).
 */
export function affectsPins(name: string): boolean {
  return SESSION_LOCKS.has(name) || name === UNLOCK_ALL || name === SET_CONFIG;
}

/** The pins a call of built-in `name` creates and releases (set_config is the parser's). */
export function pinsOf(name: string): { pins: number; unpins: number } {
  if (SESSION_LOCKS.has(name)) return { pins: Pin.advisoryLock, unpins: 0 };
  if (name === UNLOCK_ALL) return { pins: 0, unpins: Pin.advisoryLock };
  return { pins: 0, unpins: 0 };
}

function isBuiltinWrite(name: string): boolean {
  if (BUILTIN_WRITE.has(name)) return true;
  // Every prefix starts with 'l', 'p' or 'b': most names are settled by their first letter.
  const c = name.charCodeAt(0);
  if (c !== 108 && c !== 112 && c !== 98) return false;
  for (const prefix of BUILTIN_WRITE_PREFIXES) if (name.startsWith(prefix)) return true;
  return false;
}

/** The options, compiled once into sets (per Classifier, or per options object for classify()). */
export interface CompiledOptions {
  /** `write_functions` by full name and by bare name (a qualified entry also matches unqualified calls). */
  readonly write: ReadonlySet<string>;
  /** `read_only_functions` exactly as listed (a bare entry matches every schema). */
  readonly readOnly: ReadonlySet<string>;
  readonly isVolatile?: (name: string, schema?: string) => boolean | undefined;
  readonly maxParseLength: number;
}

export const DEFAULT_MAX_PARSE_LENGTH = 100_000;

function norm(name: string): string {
  return name.trim().toLowerCase();
}

export function compileOptions(opts: ClassifyOptions = {}): CompiledOptions {
  const write = new Set<string>();
  for (const entry of opts.writeFunctions ?? []) {
    const n = norm(entry);
    if (n === '') continue;
    write.add(n);
    const dot = n.lastIndexOf('.');
    if (dot >= 0) write.add(n.slice(dot + 1));
  }
  const readOnly = new Set<string>();
  for (const entry of opts.readOnlyFunctions ?? []) {
    const n = norm(entry);
    if (n !== '') readOnly.add(n);
  }
  return {
    write,
    readOnly,
    isVolatile: opts.isVolatile,
    maxParseLength: opts.maxParseLength ?? DEFAULT_MAX_PARSE_LENGTH,
  };
}

/**
 * Judges a call of `schema.name` (schema undefined when unqualified). Names are as PostgreSQL
 * sees them: unquoted ones lowercased. An unqualified built-in name resolves to pg_catalog,
 * which is searched first, so a same-named user function does not change the answer.
 */
export function judgeFunction(name: string, schema: string | undefined, o: CompiledOptions): FnKind {
  if (isBuiltinWrite(name) || o.write.has(name)) return Fn.write;
  if (schema !== undefined && o.write.has(`${schema}.${name}`)) return Fn.write;
  if (o.readOnly.has(name) || (schema !== undefined && o.readOnly.has(`${schema}.${name}`))) return Fn.safe;
  if ((schema === undefined || schema === 'pg_catalog') && BUILTIN_READ_ONLY.has(name)) return Fn.safe;
  const volatile = o.isVolatile?.(name, schema);
  if (volatile === true) return Fn.volatile;
  if (volatile === false) return Fn.safe;
  return Fn.unknown;
}
