// Owns the pgmux-wide registry of prepared statements: one server-side name per distinct
// (search_path, query text, parameter types), shared by every client that prepares the same
// thing, and each server's bounded cache of which statements it holds.

import { parse } from '../protocol/frontend';

/** One distinct statement as servers know it. */
export interface Statement {
  /** The name pgmux prepares it under on servers (clients never see it). */
  readonly serverName: string;
  /** serverName as a NUL-terminated string's bytes, spliced into every Bind (no encoding per use). */
  readonly serverNameZ: Buffer;
  readonly sql: string;
  readonly paramTypes: readonly number[];
  /** Parameter types as SHOW PREPARED prints them: OIDs of a Parse, or PREPARE's type names. */
  readonly typesText: string;
  /**
   * The Parse message that prepares it on a server, built once; null for a SQL-level PREPARE
   * with parameter type names, which only SQL can prepare (lib/prepared/sql-planner.ts).
   */
  readonly parse: Buffer | null;
  /** `PREPARE <serverName> [(types)] AS <sql>`, or null when the types are OIDs SQL cannot name. */
  readonly prepareSql: string | null;
  /**
   * A server answered ParseComplete for this Parse (and none has refused it since): a client's
   * Parse of it may be answered by pgmux without a server (./unlinked-parse.ts says why that is
   * safe). Set and cleared by ./link.ts; always false for a statement only SQL can prepare.
   */
  good: boolean;
  /** Client Parse/Bind/Describe uses, for SHOW PREPARED. */
  uses: number;
  /** How many server caches hold it now. */
  servers: number;
}

/** A statement a protocol-level Parse can prepare. */
export type ParsedStatement = Statement & { readonly parse: Buffer };

/** The registry as the clients of one search_path see it (StatementRegistry.scoped). */
export interface Statements {
  intern(sql: string, paramTypes: readonly number[]): ParsedStatement;
  /** The statement a Parse of this text and these types would intern, if the registry holds it; interns nothing. */
  find(sql: string, paramTypes: readonly number[]): ParsedStatement | undefined;
  /** A SQL-level `PREPARE name (types) AS sql`: types are names, so only SQL can prepare it. */
  internSql(sql: string, types: string): Statement;
}

/**
 * Interns statements by search_path, text and parameter types; bounded, oldest forgotten first.
 * Itself the view of clients that never set search_path.
 */
export class StatementRegistry implements Statements {
  private readonly byKey = new Map<string, Statement>();
  private next = 1;
  /** One view per search_path clients have set, made at its first Parse. */
  private readonly views = new Map<string, Statements>();

  constructor(private readonly limit = 10000) {}

  get size(): number {
    return this.byKey.size;
  }

  /**
   * The statements of clients whose session search_path is `searchPath` ('' for the server's
   * own). PostgreSQL resolves a statement's names, and fixes its result columns, at its first
   * Parse, with the search_path of then; shared by text alone, a statement first prepared by a
   * client of one schema would be a client of another's too, and PostgreSQL answers that client
   * 0A000 `cached plan must not change result type` where its tables differ (schema-per-tenant
   * during a migration), or the unlinked-Parse answer would vouch for a text that does not
   * parse in its schema.
   */
  scoped(searchPath: string): Statements {
    if (searchPath === '') return this;
    let view = this.views.get(searchPath);
    if (view === undefined) {
      if (this.views.size >= this.limit) this.views.clear();
      // Three NULs never occur in an unscoped key (at most two: internSql's), nor in a search_path.
      const prefix = `${searchPath}\u0000\u0000\u0000`;
      view = {
        intern: (sql, paramTypes) => this.internKey(prefix + parsedKey(sql, paramTypes), sql, paramTypes),
        find: (sql, paramTypes) => this.byKey.get(prefix + parsedKey(sql, paramTypes)) as ParsedStatement | undefined,
        internSql: (sql, types) => this.internSqlKey(`${prefix}${sql}\u0000\u0000${types}`, sql, types),
      };
      this.views.set(searchPath, view);
    }
    return view;
  }

  intern(sql: string, paramTypes: readonly number[]): ParsedStatement {
    return this.internKey(parsedKey(sql, paramTypes), sql, paramTypes);
  }

  private internKey(key: string, sql: string, paramTypes: readonly number[]): ParsedStatement {
    // Keys whose statement part has at most one NUL are interned here only, always with a Parse.
    const found = this.byKey.get(key) as ParsedStatement | undefined;
    if (found !== undefined) return found;
    const serverName = `pgmux_${(this.next++).toString(36)}`;
    // Unspecified types (0) are PREPARE's `unknown`; a real OID has no name we could write.
    const sqlTypes = paramTypes.every((t) => t === 0) ? paramTypes.map(() => 'unknown').join(', ') : null;
    const stmt = { serverName, serverNameZ: cstringBytes(serverName), sql, paramTypes, typesText: paramTypes.join(','), parse: parse(serverName, sql, paramTypes), prepareSql: prepareSql(serverName, sqlTypes, sql), good: false, uses: 0, servers: 0 };
    this.add(key, stmt);
    return stmt;
  }

  find(sql: string, paramTypes: readonly number[]): ParsedStatement | undefined {
    return this.byKey.get(parsedKey(sql, paramTypes)) as ParsedStatement | undefined;
  }

  internSql(sql: string, types: string): Statement {
    // Two NULs: a protocol key has at most one, followed by digits.
    return this.internSqlKey(`${sql}\u0000\u0000${types}`, sql, types);
  }

  private internSqlKey(key: string, sql: string, types: string): Statement {
    const stmt = this.byKey.get(key);
    if (stmt !== undefined) return stmt;
    const serverName = `pgmux_${(this.next++).toString(36)}`;
    return this.add(key, { serverName, serverNameZ: cstringBytes(serverName), sql, paramTypes: [], typesText: types, parse: null, prepareSql: prepareSql(serverName, types, sql), good: false, uses: 0, servers: 0 });
  }

  private add<S extends Statement>(key: string, stmt: S): S {
    this.byKey.set(key, stmt);
    // A forgotten statement keeps working for whoever holds it; a new Parse of the same text
    // just gets a fresh server-side name.
    if (this.byKey.size > this.limit) this.byKey.delete(this.byKey.keys().next().value as string);
    return stmt;
  }

  all(): IterableIterator<Statement> {
    return this.byKey.values();
  }
}

function parsedKey(sql: string, paramTypes: readonly number[]): string {
  return paramTypes.length === 0 ? sql : `${sql}\u0000${paramTypes.join(',')}`;
}

function cstringBytes(name: string): Buffer {
  return Buffer.from(`${name}\u0000`, 'latin1');
}

function prepareSql(serverName: string, types: string | null, sql: string): string | null {
  if (types === null) return null;
  // The newline ends a trailing `--` comment of the statement before pgmux appends `;`.
  return `PREPARE ${serverName}${types === '' ? '' : ` (${types})`} AS ${sql}\n`;
}

/**
 * Which statements one server has prepared, least recently used first, and which of those hold
 * a plan whose result type changed since (stale: the server answers a Bind with 0A000 "cached
 * plan must not change result type" until pgmux closes and prepares them again).
 */
export class ServerStatementCache {
  private readonly held = new Map<Statement, true>();
  /** The statement has() last moved to the end of `held`, while nothing else changed it; else null. */
  private newest: Statement | null = null;
  /** Prepared on the server but stale; counted in Statement.servers, not in the LRU bound. */
  private stale: Set<Statement> | null = null;

  constructor(public limit: number) {}

  get size(): number {
    return this.held.size;
  }

  has(stmt: Statement): boolean {
    // Already the most recently used (the same statement again, as a busy server sees): nothing to move.
    if (stmt === this.newest) return true;
    if (!this.held.has(stmt)) return false;
    // Refresh its place in the LRU order.
    this.held.delete(stmt);
    this.held.set(stmt, true);
    this.newest = stmt;
    return true;
  }

  /** Records a statement as prepared; returns the one evicted to stay in bounds, if any. */
  add(stmt: Statement): Statement | null {
    this.newest = null;
    this.held.set(stmt, true);
    stmt.servers++;
    if (this.held.size <= this.limit) return null;
    const oldest = this.held.keys().next().value as Statement;
    this.remove(oldest);
    return oldest;
  }

  /**
   * Puts back a statement evicted in vain (its Close or DEALLOCATE was skipped after an error,
   * so the server still holds it). May leave the cache one over its bound until the next add.
   */
  restore(stmt: Statement): void {
    if (this.held.has(stmt)) return;
    this.newest = null;
    this.held.set(stmt, true);
    stmt.servers++;
  }

  remove(stmt: Statement): void {
    this.newest = null;
    if (this.held.delete(stmt)) stmt.servers--;
  }

  /** The server's copy has a stale plan: has() says no until takeStale() hands it over for a Close. */
  markStale(stmt: Statement): void {
    this.newest = null;
    if (this.held.delete(stmt)) (this.stale ??= new Set()).add(stmt);
  }

  /** True when the server holds a stale copy, which the caller now closes before preparing it again. */
  takeStale(stmt: Statement): boolean {
    if (this.stale === null || !this.stale.delete(stmt)) return false;
    stmt.servers--;
    return true;
  }

  /** The Close of a stale copy was skipped after an error: the server still holds it. */
  restoreStale(stmt: Statement): void {
    const stale = (this.stale ??= new Set());
    if (this.held.has(stmt) || stale.has(stmt)) return;
    stale.add(stmt);
    stmt.servers++;
  }

  /** Closed and prepared again in place (a re-run batch): a stale copy is current again. */
  refresh(stmt: Statement): void {
    this.newest = null;
    if (this.stale !== null && this.stale.delete(stmt)) this.held.set(stmt, true);
  }

  clear(): void {
    this.newest = null;
    for (const stmt of this.held.keys()) stmt.servers--;
    this.held.clear();
    if (this.stale === null) return;
    for (const stmt of this.stale) stmt.servers--;
    this.stale = null;
  }
}
