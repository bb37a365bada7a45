// Owns how a called function is judged for routing: the built-ins that need the primary, the
// session pins some built-ins create, the `write_functions` / `read_only_functions` settings,
// the built-in read-only list and the per-database volatility lookup, in that order.

import { BUILTIN_READ_ONLY, NODE_ANSWER, needsPrimary } from './classify-builtins';
import { Pin, type ClassifyOptions } from './classify-types';

/** How a function call affects the route. */
export const Fn = {
  /** Cannot write: built-in read-only, listed read-only, or known not volatile. */
  safe: 0,
  /** Writes or needs the primary: BUILTIN_PRIMARY and `write_functions`. */
  write: 1,
  /**
   * The primary, but a `pgmux:replica` hint may send it to a replica: a user function whose
   * provolatile is 'v', or a built-in whose answer is about the node (NODE_ANSWER).
   */
  volatile: 2,
  /** Nothing says: the primary, and reported in unknownFunctions. */
  unknown: 3,
} as const;
export type FnKind = (typeof Fn)[keyof typeof Fn];

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
  if (needsPrimary(name) || o.write.has(name)) return Fn.write;
  if (schema !== undefined && o.write.has(`${schema}.${name}`)) return Fn.write;
  if (o.readOnly.has(name) || (schema !== undefined && o.readOnly.has(`${schema}.${name}`))) return Fn.safe;
  if (schema === undefined || schema === 'pg_catalog') {
    if (BUILTIN_READ_ONLY.has(name)) return Fn.safe;
    if (NODE_ANSWER.has(name)) return Fn.volatile;
  }
  const volatile = o.isVolatile?.(name, schema);
  if (volatile === true) return Fn.volatile;
  if (volatile === false) return Fn.safe;
  return Fn.unknown;
}
