// Owns read_your_writes bookkeeping: the last write of each scope (a client connection, a user of
// a database, or a database), kept as a WAL position when one is known and as a "fence" time
// while it is not, and turned into route()'s WriteLsn. A fence resolves to the first primary
// position the lag tracker polled after it, so a commit's position is learned without any query
// on the client's path (see LagTracker.primaryLsnSince).

import type { ReadYourWrites, WriteLsn } from './route';
import type { Lsn } from './lsn';
import type { ReplicaView } from './replicas';

/** Where the scope's position comes from when a fence is pending: the database's lag tracker. */
export interface PrimaryPositions {
  primaryLsnSince(t: number): Lsn | undefined;
}

/** The map key of a client's scope, or null when read_your_writes is off. */
export function scopeKey(mode: ReadYourWrites, clientId: number, user: string, database: string): string | null {
  switch (mode) {
    case 'off':
      return null;
    case 'connection':
      return `c\u0000${clientId}`;
    case 'user':
      return `u\u0000${database}\u0000${user}`;
    case 'database':
      return `d\u0000${database}`;
  }
}

interface Entry {
  /** Highest position known to be written in this scope; null while none is. */
  lsn: Lsn | null;
  /** Acknowledgement time (tracker clock, ms) of the latest commit whose position is unknown; -1 if none. */
  fence: number;
}

/** The last writes of every scope of one database (one per LagTracker). */
export class WriteScopes {
  private readonly entries = new Map<string, Entry>();

  /**
   * A write in `key`'s scope committed and its acknowledgement (ReadyForQuery 'I') reached pgmux
   * at `at`: its position is not known yet, but any primary position polled from then on is at
   * or past it.
   */
  committed(key: string, at: number): void {
    const e = this.entries.get(key);
    if (e === undefined) this.entries.set(key, { lsn: null, fence: at });
    else e.fence = Math.max(e.fence, at);
  }

  /** A write's exact position became known (e.g. pg_current_wal_lsn() read on its own server). */
  wrote(key: string, lsn: Lsn): void {
    const e = this.entries.get(key);
    if (e === undefined) this.entries.set(key, { lsn, fence: -1 });
    else if (e.lsn === null || lsn > e.lsn) e.lsn = lsn;
  }

  /** What route() must wait for in this scope: a position, 'pending', or null (no write remembered). */
  writeLsn(key: string | null, primary: PrimaryPositions): WriteLsn {
    if (key === null) return null;
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (e.fence >= 0) {
      const polled = primary.primaryLsnSince(e.fence);
      if (polled === undefined) return 'pending';
      e.fence = -1;
      if (e.lsn === null || polled > e.lsn) e.lsn = polled;
    }
    return e.lsn;
  }

  /** The scope ended (a client disconnected, for scope 'connection'). */
  forget(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Drops writes every replica has replayed (they can no longer make a read wait). A replica with
   * no known position keeps everything: it may come back behind a forgotten write. The host that
   * is the primary (wrong-role: not in recovery) is no replica and is skipped.
   */
  prune(replicas: readonly ReplicaView[]): void {
    let min: Lsn | null = null;
    for (const r of replicas) {
      if (r.state === 'wrong-role') continue;
      if (r.replayLsn === null) return;
      if (min === null || r.replayLsn < min) min = r.replayLsn;
    }
    if (min === null) return;
    for (const [key, e] of this.entries) if (e.fence < 0 && e.lsn !== null && e.lsn <= min) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
