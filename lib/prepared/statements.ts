// Owns the pgmux-wide registry of prepared statements: one server-side name per distinct
// (query text, parameter types), shared by every client that prepares the same thing, and each
// server's bounded cache of which statements it holds.

import { parse } from '../protocol/frontend';

/** One distinct statement as servers know it. */
export interface Statement {
  /** The name pgmux prepares it under on servers (clients never see it). */
  readonly serverName: string;
  readonly sql: string;
  readonly paramTypes: readonly number[];
  /** The Parse message that prepares it on a server, built once. */
  readonly parse: Buffer;
  /** Client Parse/Bind/Describe uses, for SHOW PREPARED. */
  uses: number;
  /** How many server caches hold it now. */
  servers: number;
}

/** Interns statements by text and parameter types; bounded, oldest forgotten first. */
export class StatementRegistry {
  private readonly byKey = new Map<string, Statement>();
  private next = 1;

  constructor(private readonly limit = 10000) {}

  get size(): number {
    return this.byKey.size;
  }

  intern(sql: string, paramTypes: readonly number[]): Statement {
    const key = paramTypes.length === 0 ? sql : `${sql}\u0000${paramTypes.join(',')}`;
    let stmt = this.byKey.get(key);
    if (stmt !== undefined) return stmt;
    const serverName = `pgmux_${(this.next++).toString(36)}`;
    stmt = { serverName, sql, paramTypes, parse: parse(serverName, sql, paramTypes), uses: 0, servers: 0 };
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

/** Which statements one server has prepared, least recently used first. */
export class ServerStatementCache {
  private readonly held = new Map<Statement, true>();

  constructor(public limit: number) {}

  get size(): number {
    return this.held.size;
  }

  has(stmt: Statement): boolean {
    if (!this.held.has(stmt)) return false;
    // Refresh its place in the LRU order.
    this.held.delete(stmt);
    this.held.set(stmt, true);
    return true;
  }

  /** Records a statement as prepared; returns the one evicted to stay in bounds, if any. */
  add(stmt: Statement): Statement | null {
    this.held.set(stmt, true);
    stmt.servers++;
    if (this.held.size <= this.limit) return null;
    const oldest = this.held.keys().next().value as Statement;
    this.remove(oldest);
    return oldest;
  }

  remove(stmt: Statement): void {
    if (this.held.delete(stmt)) stmt.servers--;
  }

  clear(): void {
    for (const stmt of this.held.keys()) stmt.servers--;
    this.held.clear();
  }
}
