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
