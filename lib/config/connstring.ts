// Owns the right-hand side of [databases] and [users] lines: PgBouncer's connect-string grammar
// and the keys each section accepts, turned into DatabaseDef / UserDef.
//
// Grammar (PgBouncer's loader.c, not libpq's): space-separated key=value pairs; blanks around '='
// are allowed; a value is either bare (up to the next blank) or single-quoted with '' standing
// for one quote. There are no backslash escapes, and empty values are refused as PgBouncer does.
// Keys are case-sensitive. A repeated key keeps its last value.

import { ConfigError } from './errors';
import { POOL_MODES } from './settings';
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

type Kind = 'text' | 'count' | 'port' | 'pool_mode';

interface KeyRow<F extends string> {
  readonly field: F;
  readonly kind: Kind;
  /** false: known to PgBouncer, but pgmux cannot honour it yet. */
  readonly supported: boolean;
}

type DbField = Exclude<keyof DatabaseDef, 'name' | 'source'>;
type UserField = Exclude<keyof UserDef, 'name' | 'source'>;

/** Keys of a [databases] line (PgBouncer 1.18 parse_database), in its documentation's order. */
const DB_KEYS: Readonly<Record<string, KeyRow<DbField>>> = {
  dbname: { field: 'dbname', kind: 'text', supported: true },
  host: { field: 'host', kind: 'text', supported: true },
  port: { field: 'port', kind: 'port', supported: true },
  user: { field: 'user', kind: 'text', supported: true },
  password: { field: 'password', kind: 'text', supported: true },
  // Needs auth_query against the server, which pgmux does not do yet.
  auth_user: { field: 'authUser', kind: 'text', supported: false },
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
  const def: DatabaseDef = { name, dbname: name, host: undefined, port: 5432, source };
  // Object.assign because the field is chosen by the table row; each row's kind fixes the
  // value's type to the one that field declares (text: string, count/port: number, pool_mode).
  for (const [key, text] of parseConnString(connString, source)) {
    const row = lookup(DB_KEYS, key, `database "${name}"`, source);
    Object.assign(def, { [row.field]: convert(row.kind, key, text, source) });
  }
  return def;
}

/** A [users] line: `name = pool_mode=transaction max_user_connections=10`. */
export function parseUser(name: string, settings: string, source: string): UserDef {
  const def: UserDef = { name, source };
  for (const [key, text] of parseConnString(settings, source)) {
    const row = lookup(USER_KEYS, key, `user "${name}"`, source);
    Object.assign(def, { [row.field]: convert(row.kind, key, text, source) });
  }
  return def;
}

function lookup<F extends string>(table: Readonly<Record<string, KeyRow<F>>>, key: string, owner: string, source: string): KeyRow<F> {
  const row = Object.hasOwn(table, key) ? table[key] : undefined;
  if (row === undefined) {
    throw new ConfigError(source, `unknown key "${key}" for ${owner}; valid keys: ${Object.keys(table).join(', ')}`);
  }
  if (!row.supported) throw new ConfigError(source, `${key} is not supported by pgmux yet`);
  return row;
}

const INT_MAX = 2147483647;

function convert(kind: Kind, key: string, text: string, source: string): string | number {
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
  }
}

function toPoolMode(text: string, source: string): PoolMode {
  const mode = POOL_MODES.find((m) => m === text.toLowerCase());
  if (mode === undefined) throw new ConfigError(source, `pool_mode must be one of: ${POOL_MODES.join(', ')}, not "${text}"`);
  return mode;
}
