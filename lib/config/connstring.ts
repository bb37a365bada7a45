// Owns the right-hand side of [databases] and [users] lines: PgBouncer's connect-string grammar
// and the keys each section accepts, turned into DatabaseDef / UserDef.
//
// Grammar (PgBouncer's loader.c, not libpq's): space-separated key=value pairs; blanks around '='
// are allowed; a value is either bare (up to the next blank) or single-quoted with '' standing
// for one quote. There are no backslash escapes, and empty values are refused as PgBouncer does.
// Keys are case-sensitive. A repeated key keeps its last value.

import { ConfigError } from './errors';
import { findSetting, POOL_MODES, type SettingName, type SettingValue } from './settings';
import { parseSettingValue } from './values';
import { databaseHosts, parseHostList, parseReplicaList } from './routing';
import type { DatabaseDef, PoolMode, UserDef } from './types';

const BLANK = /[ \t]/;

/** Splits a connect string into its pairs, in order. Throws ConfigError at `source`. */
export function parseConnString(s: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  const skipBlanks = (): void => {
    while (pos < s.length && BLANK.test(s.charAt(pos))) pos++;
  };
  for (;;) {
    skipBlanks();
    if (pos >= s.length) return out;
    const keyStart = pos;
    while (pos < s.length && s.charAt(pos) !== '=' && !BLANK.test(s.charAt(pos))) pos++;
    const key = s.slice(keyStart, pos);
    skipBlanks();
    if (s.charAt(pos) !== '=' || key === '') {
      const what = key === '' ? `"=" without a key name` : `"${key}" is not followed by "="`;
      throw new ConfigError(source, `syntax error in connection string: ${what}; write key=value pairs separated by spaces`);
    }
    pos++;
    skipBlanks();
    let value: string;
    if (s.charAt(pos) === "'") {
      let buf = '';
      pos++;
      for (;;) {
        if (pos >= s.length) {
          throw new ConfigError(source, `syntax error in connection string: the quoted value of ${key} has no closing quote ('' is a literal quote)`);
        }
        const ch = s.charAt(pos);
        if (ch === "'" && s.charAt(pos + 1) === "'") {
          buf += "'";
          pos += 2;
        } else if (ch === "'") {
          pos++;
          break;
        } else {
          buf += ch;
          pos++;
        }
      }
      if (pos < s.length && !BLANK.test(s.charAt(pos))) {
        throw new ConfigError(source, `syntax error in connection string: put a space after the closing quote of ${key}`);
      }
      value = buf;
    } else {
      const start = pos;
      while (pos < s.length && !BLANK.test(s.charAt(pos))) pos++;
      value = s.slice(start, pos);
    }
    if (value === '') throw new ConfigError(source, `syntax error in connection string: ${key} has an empty value; remove ${key}= or give it a value`);
    out.set(key, value);
  }
}

/** setting: the value has the syntax of that [pgbouncer] setting's row (a per-database override). */
type Kind = 'text' | 'count' | 'port' | 'pool_mode' | 'replicas' | 'route' | 'setting' | 'hosts' | 'zones';

interface KeyRow<F extends string> {
  readonly field: F;
  readonly kind: Kind;
  /** false: known to PgBouncer (or planned by pgmux), but pgmux cannot honour it yet. */
  readonly supported: boolean;
  /** kind 'setting' only: the row whose parser reads the value. */
  readonly setting?: SettingName;
}

type DbField = Exclude<keyof DatabaseDef, 'name' | 'source'>;
type UserField = Exclude<keyof UserDef, 'name' | 'source'>;

/** Keys of a [databases] line (PgBouncer 1.18 parse_database), in its documentation's order. */
const DB_KEYS: Readonly<Record<string, KeyRow<DbField>>> = {
  dbname: { field: 'dbname', kind: 'text', supported: true },
  host: { field: 'host', kind: 'hosts', supported: true },
  port: { field: 'port', kind: 'hosts', supported: true },
  user: { field: 'user', kind: 'text', supported: true },
  password: { field: 'password', kind: 'text', supported: true },
  auth_user: { field: 'authUser', kind: 'text', supported: true },
  pool_size: { field: 'poolSize', kind: 'count', supported: true },
  min_pool_size: { field: 'minPoolSize', kind: 'count', supported: true },
  reserve_pool: { field: 'reservePool', kind: 'count', supported: true },
  connect_query: { field: 'connectQuery', kind: 'text', supported: true },
  pool_mode: { field: 'poolMode', kind: 'pool_mode', supported: true },
  max_db_connections: { field: 'maxDbConnections', kind: 'count', supported: true },
  client_encoding: { field: 'clientEncoding', kind: 'text', supported: true },
  datestyle: { field: 'datestyle', kind: 'text', supported: true },
  timezone: { field: 'timezone', kind: 'text', supported: true },
  application_name: { field: 'applicationName', kind: 'text', supported: true },
  // pgmux only: read/write splitting (issue 6), wired in lib/routing/router.ts.
  replicas: { field: 'replicas', kind: 'replicas', supported: true },
  route: { field: 'route', kind: 'route', supported: true },
  read_your_writes: { field: 'readYourWrites', kind: 'setting', setting: 'read_your_writes', supported: true },
  read_your_writes_timeout: { field: 'readYourWritesTimeout', kind: 'setting', setting: 'read_your_writes_timeout', supported: true },
  read_your_writes_keys: { field: 'readYourWritesKeys', kind: 'setting', setting: 'read_your_writes_keys', supported: true },
  max_replica_lag: { field: 'maxReplicaLag', kind: 'setting', setting: 'max_replica_lag', supported: true },
  load_balance: { field: 'loadBalance', kind: 'setting', setting: 'load_balance', supported: true },
  write_functions: { field: 'writeFunctions', kind: 'setting', setting: 'write_functions', supported: true },
  read_only_functions: { field: 'readOnlyFunctions', kind: 'setting', setting: 'read_only_functions', supported: true },
  // pgmux only: failover (issue 12), wired in lib/failover.
  zones: { field: 'zones', kind: 'zones', supported: true },
  failover_timeout: { field: 'failoverTimeout', kind: 'setting', setting: 'failover_timeout', supported: true },
};

/** Keys of a [users] line (PgBouncer 1.18 parse_user). */
const USER_KEYS: Readonly<Record<string, KeyRow<UserField>>> = {
  pool_mode: { field: 'poolMode', kind: 'pool_mode', supported: true },
  max_user_connections: { field: 'maxUserConnections', kind: 'count', supported: true },
};

/** The admin console's name; PgBouncer refuses it as a [databases] key. */
export const ADMIN_DATABASE = 'pgbouncer';

/** A [databases] line. `name` is the key left of '='; '*' is the fallback entry. */
export function parseDatabase(name: string, connString: string, source: string): DatabaseDef {
  if (name === ADMIN_DATABASE) {
    throw new ConfigError(source, `database name "${ADMIN_DATABASE}" is reserved for the admin console; choose another name`);
  }
  return databaseFromPairs(name, parseConnString(connString, source), source, true);
}

/**
 * The DatabaseDef of already-split pairs. `onlySupported` false skips the "not supported by
 * pgmux yet" refusal, so specs can check the syntax of keys that are parsed but not wired yet.
 */
export function databaseFromPairs(name: string, pairs: ReadonlyMap<string, string>, source: string, onlySupported: boolean): DatabaseDef {
  const def: DatabaseDef = { name, dbname: name, host: undefined, port: 5432, source };
  let replicas: string | undefined;
  let hostText: string | undefined;
  let portText: string | undefined;
  // Object.assign because the field is chosen by the table row; each row's kind fixes the
  // value's type to the one that field declares (text: string, count/port: number, pool_mode,
  // setting: that setting's value type, which DatabaseDef declares via Settings[...]).
  for (const [key, text] of pairs) {
    const row = lookup(DB_KEYS, key, `database "${name}"`, source, onlySupported);
    // Entries without a port take the line's port, which may come later on the line.
    if (row.kind === 'replicas') replicas = text;
    else if (key === 'host') hostText = text;
    else if (key === 'port') portText = text;
    else Object.assign(def, { [row.field]: convert(row, key, text, source) });
  }
  // host= and port= may each be a list (libpq style); a single one is PgBouncer's line as ever.
  const hosts = parseHostList(hostText, portText, source);
  def.host = hosts[0].host;
  def.port = hosts[0].port;
  if (hosts.length > 1) def.hosts = hosts;
  if (replicas !== undefined) def.replicas = parseReplicaList(replicas, def.port, source);
  const all = databaseHosts(def);
  if (def.zones !== undefined && def.zones.length !== all.length) {
    throw new ConfigError(source, `zones lists ${def.zones.length} zones for ${all.length} hosts (host= then replicas=); give one zone per host`);
  }
  const seen = new Set<string>();
  for (const h of all) {
    const key = `${h.host ?? ''}:${h.port}`;
    if (seen.has(key)) throw new ConfigError(source, `${h.host ?? '(unix socket)'}:${h.port} is listed both in host= and in replicas=; list each server once`);
    seen.add(key);
  }
  return def;
}

/** A [users] line: `name = pool_mode=transaction max_user_connections=10`. */
export function parseUser(name: string, settings: string, source: string): UserDef {
  const def: UserDef = { name, source };
  for (const [key, text] of parseConnString(settings, source)) {
    const row = lookup(USER_KEYS, key, `user "${name}"`, source);
    Object.assign(def, { [row.field]: convert(row, key, text, source) });
  }
  return def;
}

function lookup<F extends string>(
  table: Readonly<Record<string, KeyRow<F>>>,
  key: string,
  owner: string,
  source: string,
  onlySupported = true,
): KeyRow<F> {
  const row = Object.hasOwn(table, key) ? table[key] : undefined;
  if (row === undefined) {
    throw new ConfigError(source, `unknown key "${key}" for ${owner}; valid keys: ${Object.keys(table).join(', ')}`);
  }
  if (!row.supported && onlySupported) throw new ConfigError(source, `${key} is not supported by pgmux yet`);
  return row;
}

const INT_MAX = 2147483647;

function convert<F extends string>(row: KeyRow<F>, key: string, text: string, source: string): SettingValue {
  const kind = row.kind;
  switch (kind) {
    case 'text':
      return text;
    case 'count':
    case 'port': {
      const [min, max] = kind === 'port' ? [1, 65535] : [0, INT_MAX];
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max)) throw new ConfigError(source, `${key} must be an integer from ${min} to ${max}, not "${text}"`);
      return n;
    }
    case 'pool_mode':
      return toPoolMode(text, source);
    case 'route':
      if (text !== 'replica') throw new ConfigError(source, `route must be "replica" (a read-only alias), not "${text}"; leave route out for read/write splitting`);
      return text;
    case 'replicas':
    case 'hosts':
      throw new Error(`connstring: ${key} is parsed after the line is read`);
    case 'zones':
      return text.split(',').map((z) => z.trim());
    case 'setting': {
      const setting = row.setting === undefined ? undefined : findSetting(row.setting);
      if (setting === undefined) throw new Error(`connstring: key ${key} names no setting`);
      const parsed = parseSettingValue(setting, text);
      if (!parsed.ok) throw new ConfigError(source, `${key}=${text} is not valid; expected ${parsed.expected}`);
      return parsed.value;
    }
  }
}

function toPoolMode(text: string, source: string): PoolMode {
  const mode = POOL_MODES.find((m) => m === text.toLowerCase());
  if (mode === undefined) throw new ConfigError(source, `pool_mode must be one of: ${POOL_MODES.join(', ')}, not "${text}"`);
  return mode;
}
