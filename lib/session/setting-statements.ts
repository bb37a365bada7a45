// Owns recognising the statements that change a session's settings (SET, RESET, set_config,
// DISCARD ALL, SET SESSION CHARACTERISTICS ...) and which settings each may change: a byte scan
// that every other statement passes in well under a microsecond, then PostgreSQL's grammar
// (libpg-query) for the few texts that may set something, cached by text.

import { parseSync } from 'libpg-query';
import { isObj, list, nodeOf, obj, str, type Obj } from '../parse-tree';

/** What one statement text may do to session-level settings (SET LOCAL and set_config(..., true) do nothing that outlives a transaction). */
export interface SettingEffect {
  /** Settings (lower case) whose session value the text may change. */
  readonly names: readonly string[];
  /** RESET ALL or DISCARD ALL: every session value may change. */
  readonly all: boolean;
}

export const NO_EFFECT: SettingEffect = Object.freeze({ names: Object.freeze([]) as readonly string[], all: false });

/** Texts remembered with their effect; past this many the cache starts over (texts of SET are few). */
const CACHE_MAX = 2000;
const cache = new Map<string, SettingEffect>();

/** The bytes the scan stops at: one table load per byte instead of two comparisons. */
const SEMICOLON = 1;
const UNDERSCORE = 2;
const MARKS = new Uint8Array(256);
MARKS[0x3b] = SEMICOLON;
MARKS[0x5f] = UNDERSCORE;

const ASCII_SPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) ASCII_SPACE[c] = 1;

/**
 * Whether the SQL in buf[start, end) may change a session setting: it begins (after blanks and
 * comments) with SET, RESET or DISCARD, or calls set_config (any case). A byte scan, nothing
 * decoded: every statement a client sends passes here.
 */
export function maySetBytes(buf: Buffer, start: number, end: number): boolean {
  if (settingWordAt(buf, skipBlanks(buf, start, end), end)) return true;
  // One tight pass in plain JS (a native indexOf costs more to call than this loop costs on a
  // short text), stopping only at ';' and '_' by a table.
  for (let i = start; i < end; i++) {
    const mark = MARKS[buf[i]];
    if (mark === 0) continue;
    // The first word of each later statement (BEGIN; SET ...; COMMIT); a ';' in a string only costs a parse.
    if (mark === SEMICOLON) {
      if (settingWordAt(buf, skipBlanks(buf, i + 1, end), end)) return true;
    } else if (i >= start + 3 && i + 7 <= end && matchesAt(buf, i - 3, 'set_config')) return true;
  }
  return false;
}

/** The effect of a statement text that maySetBytes let through; NO_EFFECT when it sets nothing that lasts. */
export function settingEffect(sql: string): SettingEffect {
  let effect = cache.get(sql);
  if (effect === undefined) {
    effect = classify(sql);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(sql, effect);
  }
  return effect;
}

function classify(sql: string): SettingEffect {
  let stmts: readonly unknown[];
  try {
    stmts = list(parseSync(sql).stmts);
  } catch {
    // PostgreSQL will refuse it too (or the parser is not loaded: specs of other layers).
    return NO_EFFECT;
  }
  const names = new Set<string>();
  let all = false;
  for (const raw of stmts) {
    const node = nodeOf(obj(raw).stmt);
    if (node === undefined) continue;
    const [type, body] = node;
    if (type === 'VariableSetStmt') all = variableSet(body, names) || all;
    else if (type === 'DiscardStmt') all = body.target === 'DISCARD_ALL' || all;
    else setConfigCalls(body, names);
  }
  if (!all && names.size === 0) return NO_EFFECT;
  return Object.freeze({ names: Object.freeze([...names]), all });
}

/** SET / RESET: adds the names it may change; true for RESET ALL. */
function variableSet(body: Obj, names: Set<string>): boolean {
  const kind = str(body.kind) ?? '';
  if (body.is_local === true) return false;
  if (kind === 'VAR_RESET_ALL') return true;
  const name = (str(body.name) ?? '').toLowerCase();
  if (kind === 'VAR_SET_MULTI') {
    // SET TRANSACTION ... lasts one transaction; SET SESSION CHARACTERISTICS AS TRANSACTION sets the defaults.
    if (name === 'session characteristics') {
      names.add('default_transaction_isolation');
      names.add('default_transaction_read_only');
      names.add('default_transaction_deferrable');
    }
    return false;
  }
  if (name !== '') names.add(name);
  return false;
}

/** Every set_config(name, value, is_local) in the tree whose is_local is not the constant true. */
function setConfigCalls(node: unknown, names: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) setConfigCalls(item, names);
    return;
  }
  if (!isObj(node)) return;
  for (const key in node) {
    const v = node[key];
    if (key === 'FuncCall' && isObj(v)) {
      const fn = list(v.funcname);
      const last = str(obj(obj(fn[fn.length - 1]).String).sval);
      const args = list(v.args);
      if (last === 'set_config' && args.length === 3 && constantBool(args[2]) !== true) {
        const name = constantString(args[0]);
        // A name that is not a literal cannot be known from the text (a documented limit).
        if (name !== undefined) names.add(name.toLowerCase());
      }
    }
    if (typeof v === 'object' && v !== null) setConfigCalls(v, names);
  }
}

function constantString(v: unknown): string | undefined {
  let node = obj(v);
  // 'search_path'::text
  if (isObj(node.TypeCast)) node = obj(node.TypeCast.arg);
  const c = node.A_Const;
  return isObj(c) && isObj(c.sval) ? (str(c.sval.sval) ?? '') : undefined;
}

function constantBool(v: unknown): boolean | undefined {
  let node = obj(v);
  if (isObj(node.TypeCast)) node = obj(node.TypeCast.arg);
  const c = node.A_Const;
  if (!isObj(c)) return undefined;
  if (isObj(c.boolval)) return c.boolval.boolval === true;
  if (isObj(c.sval)) {
    const s = (str(c.sval.sval) ?? '').toLowerCase();
    if (s === 'true' || s === 't' || s === 'on') return true;
    if (s === 'false' || s === 'f' || s === 'off') return false;
  }
  return undefined;
}

/** SET, RESET or DISCARD at i. */
function settingWordAt(buf: Buffer, i: number, end: number): boolean {
  if (i >= end) return false;
  const c = buf[i] | 0x20;
  return (c === 0x73 && word(buf, i, end, 'set')) || (c === 0x72 && word(buf, i, end, 'reset')) || (c === 0x64 && word(buf, i, end, 'discard'));
}

function skipBlanks(buf: Buffer, i: number, end: number): number {
  for (;;) {
    while (i < end && ASCII_SPACE[buf[i]] === 1) i++;
    if (i + 1 < end && buf[i] === 0x2d && buf[i + 1] === 0x2d) {
      const nl = buf.indexOf(0x0a, i);
      i = nl < 0 || nl >= end ? end : nl + 1;
      continue;
    }
    if (i + 1 < end && buf[i] === 0x2f && buf[i + 1] === 0x2a) {
      // Comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < end && depth > 0) {
        if (buf[i] === 0x2f && buf[i + 1] === 0x2a) {
          depth++;
          i += 2;
        } else if (buf[i] === 0x2a && buf[i + 1] === 0x2f) {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    return i;
  }
}

/** `w` (lower case) at i, case-insensitively, not followed by an identifier character. */
function word(buf: Buffer, i: number, end: number, w: string): boolean {
  if (i + w.length > end || !matchesAt(buf, i, w)) return false;
  if (i + w.length === end) return true;
  const next = buf[i + w.length];
  return !(isLetter(next) || (next >= 0x30 && next <= 0x39) || next === 0x5f || next === 0x24 || next >= 0x80);
}

function matchesAt(buf: Buffer, i: number, w: string): boolean {
  for (let k = 0; k < w.length; k++) {
    const b = buf[i + k];
    const want = w.charCodeAt(k);
    if (b !== want && !(isLetter(b) && (b | 0x20) === want)) return false;
  }
  return true;
}

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}
