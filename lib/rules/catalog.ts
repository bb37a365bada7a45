// Owns what the result cache must know of a database's catalog to call an answer deterministic:
// which function names are not immutable (any overload in any schema: pgmux does not resolve
// overloads or search_path, so one stable or volatile namesake is enough), and which table names
// are plain permanent tables (every relation of that name: no view, no unlogged or temporary
// table, no partition or inheritance, no row security, no system catalog), whose changes pgmux
// sees as writes through it. Fetched from the primary by the wiring (lib/pool/registry) with the
// SQL below; until it arrives nothing is cached.

import type { StatementFacts } from './facts';

/**
 * One row per name: 'f' rows are non-immutable function names; 'r' rows cacheable table names,
 * 'n' the names of every other relation a query can read.
 */
export const CATALOG_SQL =
  "SELECT 'f', proname FROM pg_catalog.pg_proc WHERE provolatile <> 'i' GROUP BY proname " +
  "UNION ALL SELECT CASE WHEN bool_and(c.relkind IN ('r', 'm') AND c.relpersistence = 'p' AND NOT c.relispartition " +
  "AND NOT c.relhassubclass AND NOT c.relrowsecurity AND n.nspname NOT IN ('pg_catalog', 'information_schema') " +
  "AND n.nspname NOT LIKE 'pg_toast%') THEN 'r' ELSE 'n' END, c.relname " +
  "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') GROUP BY c.relname";

export class CacheCatalog {
  constructor(
    private readonly notImmutable: ReadonlySet<string>,
    private readonly cacheableTables: ReadonlySet<string>,
    private readonly otherRelations: ReadonlySet<string>,
  ) {}

  static fromRows(rows: readonly (readonly (string | null)[])[]): CacheCatalog {
    const functions = new Set<string>();
    const tables = new Set<string>();
    const other = new Set<string>();
    for (const [kind, name] of rows) {
      if (name === null) continue;
      if (kind === 'f') functions.add(name);
      else if (kind === 'r') tables.add(name);
      else if (kind === 'n') other.add(name);
    }
    return new CacheCatalog(functions, tables, other);
  }

  /** Why the answer of a statement with these facts must not be cached, or null when it may. */
  judge(facts: StatementFacts): string | null {
    if (facts.uncacheable !== null) return facts.uncacheable;
    for (const f of facts.functions) if (this.notImmutable.has(f) || !/^[a-z_0-9]+$/.test(f)) return `function ${f} is not immutable`;
    for (const t of facts.reads) {
      if (this.cacheableTables.has(t)) continue;
      // A common table expression's name, with no relation of that name to mistake it for.
      if (facts.ctes.includes(t) && !this.otherRelations.has(t)) continue;
      return `${t} is not a plain permanent table`;
    }
    return null;
  }
}
