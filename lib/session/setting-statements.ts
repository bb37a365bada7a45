// Owns recognising the statements that change a session's settings (SET, RESET, set_config,
// DISCARD ALL, SET SESSION CHARACTERISTICS ...) and which settings each may change: a byte scan
// that every other statement passes in well under a microsecond, then PostgreSQL's grammar
// (libpg-query) for the few texts that may set something, cached by text.

import { parseSync } from 'libpg-query';
import { isObj, list, nodeOf, obj, str, withinStack, type Obj } from '../parse-tree';
import { Scan, scanStatement } from './statement-scan';

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

/**
 * Whether the SQL in buf[start, end) may change a session setting: it begins (after blanks and
 * comments) with SET, RESET or DISCARD, or calls set_config (any case). A byte scan, nothing
 * decoded: every statement a client sends passes here.
 */
export function maySetBytes(buf: Buffer, start: number, end: number): boolean {
  return scanStatement(buf, start, end, Scan.MaySet) !== 0;
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

/** A text too deeply nested to walk may call set_config anywhere in it: every value may have changed. */
const TOO_DEEP: SettingEffect = Object.freeze({ names: Object.freeze([]) as readonly string[], all: true });

function classify(sql: string): SettingEffect {
  return withinStack(() => classifyTree(sql), TOO_DEEP);
}

function classifyTree(sql: string): SettingEffect {
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
