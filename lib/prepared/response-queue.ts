// Owns the queue of responses a linked server owes one client's requests (PgBouncer's
// outstanding_requests, PgDog's ProtocolState): one entry per request that gets an answer, in the
// order sent, each with what happens to that answer (./requests Kind and Fate). What the entries
// mean (rewriting, injected Parses, skipping after an error) is ./link's; this is the storage:
// one record per request, reused from batch to batch, instead of one array per field.

import { Kind } from './requests';
import type { Statement } from './statements';
import type { SqlRewrite } from './sql-rewrite';

/** One request owed a response. */
export class QueuedRequest {
  /** ./requests Kind. */
  kind = 0;
  /** ./requests Fate. */
  fate = 0;
  /** The statement it prepares, uses or closes; null when none of pgmux's. */
  stmt: Statement | null = null;
  /** The client's name for it (a Close's, a Parse's), or ./link's STALE_CLOSE; null for most. */
  clientName: string | null = null;
  /** How a rewritten request's responses are treated (./sql-rewrite); null for most. */
  rewrite: SqlRewrite | null = null;

  fill(kind: number, fate: number, stmt: Statement | null, clientName: string | null, rewrite: SqlRewrite | null): void {
    this.kind = kind;
    this.fate = fate;
    this.stmt = stmt;
    this.clientName = clientName;
    this.rewrite = rewrite;
  }
}

export class ResponseQueue {
  /** Entries [head, length) are owed; [0, head) answered in this batch; past length, spares to reuse. */
  private readonly entries: QueuedRequest[] = [];
  /** The oldest request still owed. */
  head = 0;
  /** One past the newest request. */
  length = 0;

  /** Requests still owed. */
  get pending(): number {
    return this.length - this.head;
  }

  /** The request at index i (head <= i < length; below head, one answered earlier in the batch). */
  at(i: number): QueuedRequest {
    return this.entries[i];
  }

  /** The kind of the request at i; 0 past the end. */
  kindAt(i: number): number {
    return i < this.length ? this.entries[i].kind : 0;
  }

  push(kind: number, fate: number, stmt: Statement | null, clientName: string | null, rewrite: SqlRewrite | null): void {
    let e = this.entries[this.length];
    if (e === undefined) this.entries.push((e = new QueuedRequest()));
    e.fill(kind, fate, stmt, clientName, rewrite);
    this.length++;
  }

  /** Puts a request in at index i (head <= i <= length), the later ones moving up one. */
  insert(i: number, kind: number, fate: number, stmt: Statement | null, clientName: string | null, rewrite: SqlRewrite | null): void {
    const e = this.entries.length > this.length ? (this.entries.pop() as QueuedRequest) : new QueuedRequest();
    e.fill(kind, fate, stmt, clientName, rewrite);
    this.entries.splice(i, 0, e);
    this.length++;
  }

  /** The head request is answered (or skipped): its references go, the next one is the head. True when nothing is owed any more. */
  shift(): boolean {
    const e = this.entries[this.head];
    e.stmt = null;
    e.rewrite = null;
    this.head++;
    return this.head === this.length;
  }

  /** Index of the first Sync/Query from the head on; `length` when there is none. */
  syncAt(): number {
    let i = this.head;
    while (i < this.length && this.entries[i].kind !== Kind.Sync && this.entries[i].kind !== Kind.Query) i++;
    return i;
  }

  /** Whether the batch ending at index i (back to the previous Sync/Query) bound, described a portal or executed. */
  ranInBatch(i: number): boolean {
    for (; i >= 0; i--) {
      const k = this.entries[i].kind;
      if (k === Kind.Sync || k === Kind.Query) return false;
      if (k === Kind.Bind || k === Kind.Execute || k === Kind.DescribePortal) return true;
    }
    return false;
  }

  /** Forgets every entry (the records stay, as spares). */
  clear(): void {
    for (let i = 0; i < this.length; i++) {
      const e = this.entries[i];
      e.stmt = null;
      e.rewrite = null;
      e.clientName = null;
    }
    this.head = 0;
    this.length = 0;
  }
}
