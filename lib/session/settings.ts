// Owns the settings a client's session holds in transaction and statement pooling (any SET, RESET,
// set_config or startup `options=-c`, except the parameters PostgreSQL reports, which
// ../server/params tracks), what each server has been given, the replay that brings a server in
// line with a client in front of the client's own request, and the read-back that learns what a
// transaction that set something left behind.
//
// How values are learnt: not by re-implementing PostgreSQL's transaction rules (rollback,
// savepoints, SET LOCAL, a SET that fails, RESET ALL), but by asking the server once the
// transaction is over (readBack): the client already has its ReadyForQuery, so it waits for
// nothing, and the answer is PostgreSQL's own canonical text, so clients that set the same thing
// compare equal. Transactions that set nothing ask nothing.

import { parse } from '../protocol/frontend/parse';
import { bind } from '../protocol/frontend/bind';
import { execute } from '../protocol/frontend/execute';
import { settingEffect, type SettingEffect } from './setting-statements';
import { Scan, type StatementText } from './statement-scan';

/**
 * Session values that differ from a server's login defaults: name (lower case) -> value. Never
 * changed once made; `key` is the values in one string, so that two sets compare with one
 * string comparison (the check before every transaction).
 */
export class SettingValues {
  static readonly EMPTY = new SettingValues(new Map());
  readonly key: string;

  private constructor(readonly values: ReadonlyMap<string, string>) {
    let key = '';
    for (const name of [...values.keys()].sort()) key += `${name}\u0000${values.get(name)}\u0000`;
    this.key = key;
  }

  /** The values as one shared object: clients with the same values compare with `===` (interned by key). */
  static of(values: ReadonlyMap<string, string>): SettingValues {
    if (values.size === 0) return SettingValues.EMPTY;
    const made = new SettingValues(values);
    const known = interned.get(made.key);
    if (known !== undefined) return known;
    if (interned.size >= MAX_INTERNED) interned.clear();
    interned.set(made.key, made);
    return made;
  }

  /** These values with `changes` applied (null: back to the default). */
  with(changes: ReadonlyMap<string, string | null>): SettingValues {
    const next = new Map(this.values);
    for (const [name, value] of changes) {
      if (value === null) next.delete(name);
      else next.set(name, value);
    }
    return SettingValues.of(next);
  }

  equals(other: SettingValues): boolean {
    return this === other || this.key === other.key;
  }
}

/** Distinct sets of values kept for sharing; past this many the table starts over (equal values then compare by key). */
const MAX_INTERNED = 10000;
const interned = new Map<string, SettingValues>();

/**
 * Settings this layer never follows: the transaction's own (they last one transaction), the
 * session user (SET SESSION AUTHORIZATION is a superuser's; PostgreSQL reports it), pgmux's own
 * `pgmux.*` (the router's, never a server's).
 */
const NOT_FOLLOWED = new Set(['transaction_isolation', 'transaction_read_only', 'transaction_deferrable', 'session_authorization']);

/** The replay a server needs before a client's request: bytes to send first, and how many statements they run. */
export interface Replay {
  readonly bytes: Buffer;
  readonly statements: number;
}

/** The read-back after a transaction that may have set something: the query and what to do with its rows. */
export interface ReadBack {
  readonly sql: string;
  /** One row of the answer: a setting and its session value (null: at its default). */
  row(name: string, value: string | null): void;
  /** The answer is complete: the values as the server now has them. */
  finish(): SettingValues;
}

/** One client's session settings. */
export class SessionSettings {
  /** The values as of the end of the last transaction (the ones replayed on the next server). */
  values: SettingValues;
  /** Settings a statement of the transaction in progress may have changed; null when none. */
  private touched: Set<string> | null = null;
  /** RESET ALL or DISCARD ALL ran in the transaction in progress. */
  private touchedAll = false;
  /** Named statements (Parse) that may set something, by name: their Bind runs them again. */
  private named: Map<string, SettingEffect> | null = null;

  constructor(
    startup: SettingValues,
    /** Parameters ../server/params follows (PostgreSQL reports them): not ours. */
    private readonly reported: (name: string) => boolean,
  ) {
    this.values = startup;
  }

  /** A named statement of this client may set something: its Binds must be looked at. */
  get hasNamedStatements(): boolean {
    return this.named !== null && this.named.size > 0;
  }

  /** A Query or Parse forwarded to a server, read by the client's watchers (lib/session/statement-scan, MaySet asked): note what it may set. */
  observe(buf: Buffer, text: StatementText): void {
    if (!text.valid) return;
    if ((text.scan & Scan.MaySet) === 0) {
      if (text.name !== '' && this.named !== null) this.named.delete(text.name);
      return;
    }
    this.observeText(buf.toString('utf8', text.from, text.stop), text.name);
  }

  /** A statement text the client prepared or ran (also a Parse pgmux answered itself). */
  observeText(sql: string, statementName: string): void {
    const effect = settingEffect(sql);
    if (statementName !== '') {
      if (effect.all || effect.names.length > 0) (this.named ??= new Map()).set(statementName, effect);
      else this.named?.delete(statementName);
    }
    this.note(effect);
  }

  /** A Bind: a named statement that may set something runs again. */
  observeBind(buf: Buffer, start: number, end: number): void {
    const portalEnd = buf.indexOf(0, start + 5);
    if (portalEnd < 0 || portalEnd >= end) return;
    const nameEnd = buf.indexOf(0, portalEnd + 1);
    if (nameEnd < 0 || nameEnd >= end || nameEnd === portalEnd + 1) return;
    if (this.named === null) return;
    const effect = this.named.get(buf.toString('utf8', portalEnd + 1, nameEnd));
    if (effect !== undefined) this.note(effect);
  }

  private note(effect: SettingEffect): void {
    if (effect.all) this.touchedAll = true;
    for (const name of effect.names) {
      if (!this.follows(name)) continue;
      (this.touched ??= new Set()).add(name);
    }
  }

  /** Whether this layer follows `name` (lower case). */
  follows(name: string): boolean {
    return !NOT_FOLLOWED.has(name) && !name.startsWith('pgmux.') && !this.reported(name);
  }

  /** The transaction that just ended may have changed a setting: read the values back before the server goes. */
  get needsReadBack(): boolean {
    return this.touched !== null || this.touchedAll;
  }

  /** The read-back for the transaction that just ended. Clears what was noted: the next transaction starts afresh. */
  readBack(): ReadBack {
    // The server had this client's values when the transaction began (replayFor).
    const base = this.values;
    const names = new Set(this.touched ?? []);
    if (this.touchedAll) for (const name of base.values.keys()) names.add(name);
    this.touched = null;
    this.touchedAll = false;
    const changes = new Map<string, string | null>();
    return {
      sql: readBackSql([...names]),
      row: (name, value) => {
        changes.set(name, value);
      },
      finish: () => {
        this.values = base.with(changes);
        return this.values;
      },
    };
  }

  /** Nothing noted any more (the transaction's server was lost). */
  forgetTouched(): void {
    this.touched = null;
    this.touchedAll = false;
  }
}

/**
 * What a server with `server` values needs to have `client`'s, as extended-protocol messages
 * with no Sync, sent in front of the client's request in the same write; null when it already
 * has them (the usual case: one string comparison).
 *
 * Why no Sync: if a SET fails (a value that became invalid, a role since dropped), PostgreSQL
 * then skips every message until a Sync, so the client's own statement never runs without its
 * settings; pgmux closes that client with the error and drops the server. The SETs run inside
 * BEGIN ... COMMIT so that they are committed before the client's first message, whatever that
 * message does with transactions.
 */
export function replayFor(client: SettingValues, server: SettingValues): Replay | null {
  if (client.equals(server)) return null;
  const resets: string[] = [];
  for (const name of server.values.keys()) {
    if (!client.values.has(name)) resets.push(`RESET ${quoteName(name)}`);
  }
  const changed: [string, string][] = [];
  for (const [name, value] of client.values) {
    if (server.values.get(name) !== value) changed.push([name, value]);
  }
  return setInOwnTransaction(resets, changed);
}

/**
 * `resets`, then set_config of each (name, value), as extended-protocol messages with no Sync
 * inside BEGIN ... COMMIT: what replayFor sends, and what ../server/params sends to bring a
 * server's reported parameters in line with a client, for the same reasons (see replayFor).
 */
export function setInOwnTransaction(resets: readonly string[], values: readonly (readonly [string, string])[]): Replay {
  const parts: Buffer[] = [run('BEGIN')];
  for (const reset of resets) parts.push(run(reset));
  const params: string[] = [];
  let select = '';
  for (const [name, value] of values) {
    select += `${select === '' ? 'SELECT ' : ', '}pg_catalog.set_config($${params.length + 1}, $${params.length + 2}, false)`;
    params.push(name, value);
  }
  if (select !== '') parts.push(run(select, params));
  parts.push(run('COMMIT'));
  return { bytes: Buffer.concat(parts), statements: parts.length };
}

/** Parse, Bind and Execute of the unnamed statement. */
function run(sql: string, params: readonly string[] = []): Buffer {
  return Buffer.concat([parse('', sql), bind({ params }), execute()]);
}

/**
 * The session value of each of `names` on the server: a row (name, value), the value NULL when
 * the setting is at its default there (its source is not this session), as pg_settings tells; a
 * setting pg_settings does not show (a custom placeholder such as myapp.tenant) by
 * current_setting, '' counting as unset (what RESET leaves).
 */
function readBackSql(names: readonly string[]): string {
  const list = names.map(quoteLiteral).join(', ');
  // Everything qualified (the client's search_path must not change the answer, which other
  // clients' replays rely on); the client's statement_timeout must not cancel it, unless it is
  // one of the settings read (a local value would be read instead of the session's).
  return (
    (names.includes('statement_timeout') ? '' : 'SET LOCAL statement_timeout = 0; ') +
    'SELECT n, CASE WHEN s.name IS NULL THEN ' +
    "(CASE WHEN pg_catalog.current_setting(n, true) OPERATOR(pg_catalog.=) '' THEN NULL ELSE pg_catalog.current_setting(n, true) END) " +
    "WHEN s.source OPERATOR(pg_catalog.=) 'session' THEN pg_catalog.current_setting(n) END " +
    `FROM pg_catalog.unnest(ARRAY[${list}]::pg_catalog.text[]) AS n ` +
    'LEFT JOIN pg_catalog.pg_settings s ON pg_catalog.lower(s.name) OPERATOR(pg_catalog.=) n'
  );
}

function quoteLiteral(value: string): string {
  if (value.includes('\\')) return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `'${value.replace(/'/g, "''")}'`;
}

/** A setting's name as RESET takes it: each dotted part quoted. */
function quoteName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/**
 * `options` from a startup packet: its `-c name=value` and `--name=value` switches, as PostgreSQL
 * reads them (blank-separated, a backslash keeps the next character), names in lower case with
 * '-' read as '_'. Null when it holds anything else (another switch, a malformed one).
 */
export function parseStartupOptions(options: string): Map<string, string> | null {
  const words: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i];
    if (ch === '\\' && i + 1 < options.length) {
      cur += options[++i];
      has = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (has) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) words.push(cur);
  const out = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    let setting: string;
    const w = words[i];
    if (w === '-c') {
      if (i + 1 >= words.length) return null;
      setting = words[++i];
    } else if (w.startsWith('-c')) setting = w.slice(2);
    else if (w.startsWith('--')) setting = w.slice(2);
    else return null;
    const eq = setting.indexOf('=');
    if (eq <= 0) return null;
    out.set(setting.slice(0, eq).replace(/-/g, '_').toLowerCase(), setting.slice(eq + 1));
  }
  return out;
}

/** A DataRow of the read-back (the frame from its type byte): the setting and its session value, or null when malformed. */
export function settingRow(buf: Buffer, start: number, end: number): { name: string; value: string | null } | null {
  let pos = start + 5;
  if (pos + 2 > end || buf.readInt16BE(pos) !== 2) return null;
  pos += 2;
  const values: (string | null)[] = [];
  for (let i = 0; i < 2; i++) {
    if (pos + 4 > end) return null;
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len < 0) {
      values.push(null);
      continue;
    }
    if (pos + len > end) return null;
    values.push(buf.toString('utf8', pos, pos + len));
    pos += len;
  }
  return values[0] === null ? null : { name: values[0], value: values[1] };
}
