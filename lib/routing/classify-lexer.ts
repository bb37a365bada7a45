// Owns tier 1 of statement classification: the rules that settle the common statements from
// their tokens alone (plain SELECTs, DML, SET/RESET/SHOW, simple transaction control, calls of
// judged functions). It answers only when sure; anything else (undefined) goes to PostgreSQL's
// grammar in tier 2 (classify-parser).

import { Fn, affectsPins, judgeFunction, type CompiledOptions } from './classify-functions';
import * as tokenizer from './classify-tokenizer';
import type { Lexer, TokKind } from './classify-tokenizer';
import { Pin, Rank, combine, stickySetting, verdict, type SessionRoute, type Verdict } from './classify-types';

export { IntegerLiterals, Lexer, literalsElided, normalizedText } from './classify-tokenizer';

// Local bindings: through the CommonJS exports object each use would be a property load.
const Tok = tokenizer.Tok;
const lower = tokenizer.lower;
const wordAt = tokenizer.wordAt;

const PLAIN_SELECT = verdict('replica', 'replica: plain select');
const EMPTY = verdict('replica', 'replica: empty');
const SHOW = verdict('replica', 'replica: SHOW');
const SET_LOCAL = verdict('replica', 'replica: SET LOCAL');
const TXN_CONTROL = verdict('replica', 'replica: transaction control');
const BEGIN = verdict('primary', 'primary: BEGIN');
const SET = verdict('primary', 'primary: SET', { pins: Pin.set, setStatement: true });
/** A SET that keeps the client on the primary (classify-types stickySetting). */
const STICKY_SET = verdict('primary', 'primary: SET', { pins: Pin.set, stickySet: true });
const RESET = verdict('primary', 'primary: RESET', { pins: Pin.set, setStatement: true });
const RESET_ALL = verdict('primary', 'primary: RESET', { pins: Pin.set, setStatement: true, sessionRoute: 'auto', sessionKey: null });
export const BACKSLASH_STRING = verdict('primary', 'primary: backslash in string without standard_conforming_strings', {
  cacheable: false,
});

/** SHOW of these asks "is this the primary?": answer it from the primary. */
export const PRIMARY_SHOW: ReadonlySet<string> = new Set(['transaction_read_only', 'in_hot_standby', 'default_transaction_read_only']);

/** The verdict for `SET pgmux.key = '<key>'` (null: RESET), shared by both tiers: no pin, the key is pgmux's. */
export function keyVerdict(key: string | null): Verdict {
  return verdict('primary', 'primary: SET pgmux.key', { sessionKey: key === '' ? null : key, literalSensitive: true });
}

/** The verdict for `SET pgmux.route = <value>` / RESET, shared by both tiers. */
export function routeVerdict(route: SessionRoute): Verdict {
  return verdict('primary', 'primary: SET pgmux.route', { sessionRoute: route, literalSensitive: true });
}

export function parseRoute(value: string): SessionRoute | undefined {
  const v = value.toLowerCase();
  if (v === 'primary' || v === 'replica' || v === 'auto') return v;
  if (v === 'default') return 'auto';
  return undefined;
}

/** First words of statements that always need the primary: reason, and whether calls can pin. */
const PRIMARY_FIRST: ReadonlyMap<string, { verdict: Verdict; scanCalls: boolean }> = new Map(
  (
    [
      ['insert', 'INSERT', true],
      ['update', 'UPDATE', true],
      ['delete', 'DELETE', true],
      ['merge', 'MERGE', true],
      ['call', 'CALL', true],
      ['do', 'DO', true],
      ['truncate', 'TRUNCATE', true],
      ['lock', 'LOCK', true],
      ['vacuum', 'VACUUM', true],
      ['analyze', 'ANALYZE', true],
      ['analyse', 'ANALYZE', true],
      ['cluster', 'CLUSTER', true],
      ['reindex', 'REINDEX', true],
      ['checkpoint', 'CHECKPOINT', true],
      ['notify', 'NOTIFY', true],
      ['load', 'LOAD', true],
      // DDL creates objects and runs nothing it names, so no call in it can pin the session.
      // CREATE is missing on purpose: temporary objects pin, and the parser tells them apart.
      ['alter', 'DDL', false],
      ['drop', 'DDL', false],
      ['grant', 'DDL', false],
      ['revoke', 'DDL', false],
      ['comment', 'DDL', false],
      ['security', 'DDL', false],
      ['refresh', 'DDL', false],
      ['reassign', 'DDL', false],
      ['import', 'DDL', false],
    ] as const
  ).map(([word, reason, scanCalls]) => [word, { verdict: verdict('primary', `primary: ${reason}`), scanCalls }]),
);

/**
 * Words after which `(` does not open a function call: keywords, SQL-syntax functions the
 * grammar turns into their own nodes, and type names taking a modifier.
 */
const NOT_CALLS: ReadonlySet<string> = new Set(
  (
    'select from where and or not in exists any some all array row values as on using join lateral over ' +
    'filter within group by partition order having window when then else case is like ilike similar ' +
    'between limit offset fetch first union intersect except distinct materialized returning cast ' +
    'coalesce nullif greatest least extract position substring trim overlay treat normalize collate ' +
    'xmlelement xmlattributes xmlforest xmlconcat xmlparse xmlpi xmlroot xmlserialize xmlexists xmltable ' +
    'xmlnamespaces json json_scalar json_serialize json_object json_array json_objectagg json_arrayagg ' +
    'json_exists json_value json_query json_table columns passing grouping sets cube rollup operator ' +
    'tablesample bernoulli system repeatable set with recursive only numeric decimal dec varchar char ' +
    'character varying bit float timestamp time interval nchar to escape rows range groups default ' +
    'localtime localtimestamp current_time current_timestamp zone overlaps search cycle'
  ).split(' '),
);

/** The strongest reason so far to send a query to the primary (the earliest among equals). */
interface Best {
  rank: number;
  reason: string;
  onlyFunctions: boolean;
}

/**
 * Tier 1: the verdict for the whole text, or undefined when the lexer is not sure. A string of
 * several statements is settled only when every statement is.
 */
export function lexClassify(lx: Lexer, o: CompiledOptions): Verdict | undefined {
  let acc: Verdict | undefined;
  for (;;) {
    const v = statement(lx, o);
    if (v === undefined) return undefined;
    if (v !== EMPTY) acc = acc === undefined ? v : combine(acc, v);
    if (lx.kind === Tok.eof) return acc ?? EMPTY;
  }
}

/** One statement, up to and including its `;` (or the end). */
function statement(lx: Lexer, o: CompiledOptions): Verdict | undefined {
  let k = lx.next();
  let depth = 0;
  while (k === Tok.lparen) {
    depth++;
    k = lx.next();
  }
  if (k === Tok.eof || k === Tok.semi) return depth === 0 ? EMPTY : undefined;
  if (k !== Tok.word) return undefined;
  if (lx.is('select') || lx.is('with') || lx.is('values') || lx.is('table')) return query(lx, o, depth);
  if (depth > 0) return undefined;
  const first = lx.word();
  const primary = PRIMARY_FIRST.get(first);
  if (primary !== undefined) return writes(lx, primary.verdict, primary.scanCalls);
  switch (first) {
    case 'set':
      return set(lx);
    case 'reset':
      return reset(lx);
    case 'show':
      return show(lx);
    case 'begin':
    case 'start':
      return begin(lx, first === 'start');
    case 'commit':
    case 'end':
    case 'rollback':
    case 'abort':
    case 'savepoint':
    case 'release':
      return rest(lx, 'prepared') ? TXN_CONTROL : undefined;
    default:
      return undefined;
  }
}

/**
 * SELECT / WITH / VALUES / TABLE: a replica unless a function needs the primary. Writing
 * keywords (a data-modifying CTE, SELECT INTO, FOR UPDATE…) and calls the lexer cannot judge
 * leave it to the parser.
 */
function query(lx: Lexer, o: CompiledOptions, depth: number): Verdict | undefined {
  const sql = lx.sql;
  let best: Best | undefined;
  // The three tokens before the current one: kind, start, end.
  let k1: TokKind = Tok.word;
  let s1 = lx.start;
  let e1 = lx.end;
  let k2: TokKind = Tok.eof;
  let s2 = 0;
  let e2 = 0;
  let k3: TokKind = Tok.eof;
  let s3 = 0;
  let e3 = 0;
  for (;;) {
    const k = lx.next();
    switch (k) {
      case Tok.word:
        if (writingWord(sql, lx.start, lx.end)) return undefined;
        break;
      case Tok.lparen:
        if (k1 === Tok.word || k1 === Tok.qident) {
          const call = callAt(lx, o, k1, s1, e1, k2, s2, e2, k3, s3, e3);
          if (call === undefined) return undefined;
          if (call !== null) {
            if (best === undefined) best = call;
            else if (call.rank > best.rank) best = { ...call, onlyFunctions: best.onlyFunctions && call.onlyFunctions };
            else best.onlyFunctions = best.onlyFunctions && call.onlyFunctions;
          }
        }
        depth++;
        break;
      case Tok.rparen:
        depth--;
        break;
      case Tok.semi:
        if (depth !== 0) return undefined;
        return best === undefined ? PLAIN_SELECT : verdict('primary', best.reason, { onlyFunctions: best.onlyFunctions });
      case Tok.eof:
        if (depth !== 0) return undefined;
        return best === undefined ? PLAIN_SELECT : verdict('primary', best.reason, { onlyFunctions: best.onlyFunctions });
      case Tok.error:
        return undefined;
      default:
        break;
    }
    k3 = k2;
    s3 = s2;
    e3 = e2;
    k2 = k1;
    s2 = s1;
    e2 = e1;
    k1 = k;
    s1 = lx.start;
    e1 = lx.end;
  }
}

/** FOR (locking), INTO, and the data-modifying keywords of a writing CTE. */
function writingWord(sql: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 3 || len > 6) return false;
  // Most words are rejected by their length and first letter before any comparison.
  switch (lower(sql.charCodeAt(start))) {
    case 102: // f
      return len === 3 && wordAt(sql, start, end, 'for');
    case 105: // i
      return (len === 4 && wordAt(sql, start, end, 'into')) || (len === 6 && wordAt(sql, start, end, 'insert'));
    case 109: // m
      return len === 5 && wordAt(sql, start, end, 'merge');
    case 117: // u
      return len === 6 && wordAt(sql, start, end, 'update');
    case 100: // d
      return len === 6 && wordAt(sql, start, end, 'delete');
    default:
      return false;
  }
}

/**
 * Judges `(` after a word or quoted identifier: null when it is not a call or the call is safe,
 * the primary reason when the call needs the primary, undefined when the parser must decide.
 */
function callAt(
  lx: Lexer,
  o: CompiledOptions,
  k1: TokKind,
  s1: number,
  e1: number,
  k2: TokKind,
  s2: number,
  e2: number,
  k3: TokKind,
  s3: number,
  e3: number,
): Best | null | undefined {
  const sql = lx.sql;
  // `AS alias(cols)`, `AS numeric(10,2)`, `::varchar(20)`: an alias or a type, not a call.
  if (k2 === Tok.dcolon || (k2 === Tok.word && wordAt(sql, s2, e2, 'as'))) return null;
  let name: string;
  if (k1 === Tok.qident) {
    if (sql.charCodeAt(s1) !== 34) return undefined; // U&"…"
    name = sql.slice(s1 + 1, e1 - 1).split('""').join('"');
  } else {
    name = sql.slice(s1, e1).toLowerCase();
    if (k2 !== Tok.dot && NOT_CALLS.has(name)) return null;
  }
  let schema: string | undefined;
  if (k2 === Tok.dot) {
    if (k3 !== Tok.word) return undefined;
    schema = sql.slice(s3, e3).toLowerCase();
  }
  switch (judgeFunction(name, schema, o)) {
    case Fn.safe:
      return null;
    case Fn.write:
      if (affectsPins(name)) return undefined;
      return { rank: Rank.writeFunction, reason: `primary: volatile function ${name}`, onlyFunctions: false };
    case Fn.volatile:
      return { rank: Rank.userFunction, reason: `primary: volatile function ${name}`, onlyFunctions: true };
    default:
      return undefined;
  }
}

/**
 * A statement that needs the primary whatever it contains. Its calls are checked only for the
 * ones that pin the session (advisory locks, set_config), which the parser then judges.
 */
function writes(lx: Lexer, v: Verdict, scanCalls: boolean): Verdict | undefined {
  const sql = lx.sql;
  if (sql.length >= LONG && lastStatement(sql, lx.end) && !(scanCalls && PIN_CALL.test(sql))) {
    // A bulk INSERT of a megabyte would take milliseconds to tokenize, and every one is new
    // text: when no statement follows and no pinning call is named, there is nothing to find.
    lx.skipToEnd();
    return v;
  }
  let depth = 0;
  let k1: TokKind = Tok.word;
  let s1 = lx.start;
  let e1 = lx.end;
  for (;;) {
    const k = lx.next();
    switch (k) {
      case Tok.lparen:
        if (scanCalls && (k1 === Tok.word || k1 === Tok.qident)) {
          // Every pinning function starts with pg_ or set_: skip the others without slicing.
          const first = lower(sql.charCodeAt(k1 === Tok.word ? s1 : s1 + 1));
          if (first === 112 || first === 115) {
            const name = k1 === Tok.word ? sql.slice(s1, e1).toLowerCase() : sql.slice(s1 + 1, e1 - 1);
            if (affectsPins(name)) return undefined;
          }
        }
        depth++;
        break;
      case Tok.rparen:
        depth--;
        break;
      case Tok.semi:
      case Tok.eof:
        return depth === 0 ? v : undefined;
      case Tok.error:
        return undefined;
      default:
        break;
    }
    k1 = k;
    s1 = lx.start;
    e1 = lx.end;
  }
}

/** Statements at least this long take the shortcut in writes(). */
const LONG = 1024;

/** Names of the functions affectsPins() knows, case-insensitively, anywhere in the text. */
const PIN_CALL = /advisory|set_config/i;

/** True when no `;` follows `from`, or only whitespace and semicolons do: the text's last statement. */
function lastStatement(sql: string, from: number): boolean {
  const semi = sql.indexOf(';', from);
  return semi < 0 || /^[\s;]*$/.test(sql.slice(semi));
}

/**
 * Reads to the end of the statement; false when a word equal to `stop` (lowercase) occurs, a
 * parenthesis opens or the text does not tokenize.
 */
function rest(lx: Lexer, stop: string): boolean {
  for (;;) {
    const k = lx.next();
    if (k === Tok.semi || k === Tok.eof) return true;
    if (k === Tok.error || k === Tok.lparen || lx.is(stop)) return false;
  }
}

/** True when the current token ends the statement (so reading on would enter the next one). */
function done(lx: Lexer): boolean {
  return lx.kind === Tok.semi || lx.kind === Tok.eof;
}

/** True when the statement ends right here. */
function ends(lx: Lexer): boolean {
  const k = lx.next();
  return k === Tok.semi || k === Tok.eof;
}

/**
 * SET: session-level settings pin the client to the primary; SET LOCAL lasts one transaction;
 * `SET pgmux.route = primary|replica|auto` is the session's route hint (primary is a reserved
 * word, so PostgreSQL's grammar rejects it unquoted: only the lexer reads that form).
 */
function set(lx: Lexer): Verdict | undefined {
  lx.next();
  if (lx.is('local')) return rest(lx, '') ? SET_LOCAL : undefined;
  if (lx.is('session')) {
    lx.next();
    if (lx.is('characteristics') || lx.is('authorization')) return rest(lx, '') ? STICKY_SET : undefined;
  }
  if (lx.is('transaction') || lx.is('constraints')) return undefined;
  if (lx.kind !== Tok.word) return undefined;
  if (lx.is('pgmux')) {
    if (lx.next() === Tok.dot && lx.next() === Tok.word && lx.is('key')) {
      const k = lx.next();
      if ((k === Tok.op && lx.sql.charCodeAt(lx.start) === 61) || lx.is('to')) {
        const vk = lx.next();
        const value = vk === Tok.word ? lx.word() : vk === Tok.string && lx.sql.charCodeAt(lx.start) === 39 ? lx.unquoted() : null;
        if (value !== null && ends(lx)) return keyVerdict(value);
      }
      return undefined;
    }
    if (lx.kind === Tok.word && lx.is('route')) {
      const k = lx.next();
      if ((k === Tok.op && lx.sql.charCodeAt(lx.start) === 61) || lx.is('to')) {
        const vk = lx.next();
        const value = vk === Tok.word ? lx.word() : vk === Tok.string && lx.sql.charCodeAt(lx.start) === 39 ? lx.unquoted() : '';
        const route = parseRoute(value);
        if (route !== undefined && ends(lx)) return routeVerdict(route);
      }
    }
    if (done(lx)) return STICKY_SET;
    return rest(lx, '') ? STICKY_SET : undefined;
  }
  const result = stickySetting(lx.word()) ? STICKY_SET : SET;
  return rest(lx, '') ? result : undefined;
}

/** RESET: like SET; RESET ALL also resets the session's route hint. */
function reset(lx: Lexer): Verdict | undefined {
  lx.next();
  if (lx.is('all')) return ends(lx) ? RESET_ALL : undefined;
  if (lx.is('pgmux')) {
    if (lx.next() === Tok.dot && lx.next() === Tok.word) {
      if (lx.is('route') && ends(lx)) return routeVerdict('auto');
      if (lx.is('key') && ends(lx)) return keyVerdict(null);
    }
    if (done(lx)) return RESET;
  }
  if (lx.kind !== Tok.word) return undefined;
  return rest(lx, '') ? RESET : undefined;
}

/** SHOW: a replica, except the settings a client asks to find out whether it is on the primary. */
function show(lx: Lexer): Verdict | undefined {
  if (lx.next() !== Tok.word) return undefined;
  const name = lx.word();
  if (PRIMARY_SHOW.has(name)) return ends(lx) ? verdict('primary', `primary: SHOW ${name}`) : undefined;
  return rest(lx, '') ? SHOW : undefined;
}

/** BEGIN [WORK | TRANSACTION] and START TRANSACTION with no modes; anything else is the parser's. */
function begin(lx: Lexer, start: boolean): Verdict | undefined {
  let k = lx.next();
  if (start && !lx.is('transaction')) return undefined;
  if (lx.is('work') || lx.is('transaction')) k = lx.next();
  return k === Tok.semi || k === Tok.eof ? BEGIN : undefined;
}
