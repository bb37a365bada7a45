// Owns reading the parse trees libpg-query returns (PostgreSQL's own nodes as plain JSON), for the
// classifier (lib/routing/classify-parser) and the rules' statement facts (lib/rules/facts): a
// leaf, like lib/log.ts, so both layers use one reading of the tree's shape.

export type Obj = { readonly [key: string]: unknown };

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` if it is an object, else an empty one (missing fields read as undefined). */
export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A parse-tree node is `{ TypeName: { fields } }`: its type name and fields, else undefined. */
export function nodeOf(v: unknown): [string, Obj] | undefined {
  if (!isObj(v)) return undefined;
  for (const key in v) {
    const body = v[key];
    return isObj(body) ? [key, body] : undefined;
  }
  return undefined;
}

/**
 * `walk()`, or `tooDeep` when it runs out of stack. PostgreSQL's grammar accepts expressions
 * nested thousands deep (`ARRAY[ARRAY[...]]`, `f(f(...))`), and a recursive walk of such a tree
 * throws RangeError; uncaught, one client's statement would take the whole process down. Only
 * that error is caught: `tooDeep` is the caller's safe answer; any other error is a bug and goes on.
 */
export function withinStack<T>(walk: () => T, tooDeep: T): T {
  try {
    return walk();
  } catch (err) {
    if (err instanceof RangeError && err.message.includes('call stack')) return tooDeep;
    throw err;
  }
}
