// Owns read_your_writes bookkeeping: the last write of each scope (a client connection, a user of
// a database, a database, or an application's consistency key), kept as a WAL position when one
// is known and as a "fence" time while it is not, and turned into route()'s WriteLsn. A fence
// resolves to the first primary position the lag tracker polled after it, so a commit's position
// is learned without any query on the client's path (see LagTracker.primaryLsnSince).
//
// Application keys (read_your_writes = key) come from end users, so they are bounded: at most
// `maxKeys` entries, least recently used forgotten first. A forgotten key's position is not lost
// but folded into a floor every keyed read then waits for, as does the primary's position when
// pgmux started (it knows nothing of writes before it): the safe side, reads wait or go to the
// primary, never stale. Once every replica has replayed the floor, it constrains nothing.
//
// With workers > 1 the user and database scopes are shared: another worker's commit in them is
// recorded here as a fence when its note arrives (lib/workers/commit-share), and those scopes wait
// for the floor too, since a worker (or a replica set made at RELOAD) started after writes it
// never heard of.

import { LRUCache } from 'lru-cache';
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
    case 'key':
      // Statements without a key fall back to the connection's own writes.
      return `c\u0000${clientId}`;
  }
}

/** The map key of an application's consistency key (read_your_writes = key). */
export function appKey(key: string): string {
  return `k\u0000${key}`;
}

/** Keys are swept by every this many prune() calls (the janitor's, ten a second). */
const KEY_SWEEP_EVERY = 10;

/** Keys kept per database unless the setting says otherwise. */
export const DEFAULT_MAX_KEYS = 100_000;

interface Entry {
  /** Highest position known to be written in this scope; null while none is. */
  lsn: Lsn | null;
  /** Acknowledgement time (tracker clock, ms) of the latest commit whose position is unknown; -1 if none. */
  fence: number;
}

/** The last writes of every scope of one database (one per LagTracker). */
export class WriteScopes {
  private readonly entries = new Map<string, Entry>();
  /** Application keys, bounded (LRU); an evicted one's write raises `floor`. */
  private readonly keys: LRUCache<string, Entry>;
  /** What every keyed read waits for: forgotten keys' writes, and the primary at start. */
  private readonly floor: Entry;
  /** prune() calls since the keys were last swept (a sweep walks every key: not every tick). */
  private prunes = 0;

  /**
   * `startedAt`: when this database's routing started (tracker clock): keyed reads wait for the
   * first primary position polled after it. -1: no such floor (specs of the other scopes).
   * `sharedScopes`: workers > 1: reads in the user and database scopes wait for the floor too.
   */
  constructor(
    maxKeys = DEFAULT_MAX_KEYS,
    startedAt = -1,
    private readonly sharedScopes = false,
  ) {
    this.floor = { lsn: null, fence: startedAt };
    this.keys = new LRUCache<string, Entry>({
      max: Math.max(1, maxKeys),
      dispose: (e, _key, reason) => {
        if (reason !== 'evict') return;
        if (e.lsn !== null && (this.floor.lsn === null || e.lsn > this.floor.lsn)) this.floor.lsn = e.lsn;
        if (e.fence >= 0) this.floor.fence = Math.max(this.floor.fence, e.fence);
      },
    });
  }

  private entry(key: string): Entry | undefined {
    return key.charCodeAt(0) === 0x6b /* k */ ? this.keys.get(key) : this.entries.get(key);
  }

  private add(key: string, e: Entry): void {
    if (key.charCodeAt(0) === 0x6b) this.keys.set(key, e);
    else this.entries.set(key, e);
  }

  /**
   * A write in `key`'s scope committed and its acknowledgement (ReadyForQuery 'I') reached pgmux
   * at `at`: its position is not known yet, but any primary position polled from then on is at
   * or past it.
   */
  committed(key: string, at: number): void {
    const e = this.entry(key);
    if (e === undefined) this.add(key, { lsn: null, fence: at });
    else e.fence = Math.max(e.fence, at);
  }

  /** A write's exact position became known (e.g. pg_current_wal_lsn() read on its own server). */
  wrote(key: string, lsn: Lsn): void {
    const e = this.entry(key);
    if (e === undefined) this.add(key, { lsn, fence: -1 });
    else if (e.lsn === null || lsn > e.lsn) e.lsn = lsn;
  }

  /** What route() must wait for in this scope: a position, 'pending', or null (no write remembered). */
  writeLsn(key: string | null, primary: PrimaryPositions): WriteLsn {
    if (key === null) return null;
    const e = this.entry(key);
    const own = e === undefined ? null : resolve(e, primary);
    const scope = key.charCodeAt(0);
    if (scope !== 0x6b /* k */ && (!this.sharedScopes || scope === 0x63) /* c */) return own;
    // A keyed read also waits for the floor (forgotten keys, the primary at start); with workers,
    // so do the user and database scopes (writes made before this worker heard of them).
    const floor = resolve(this.floor, primary);
    if (own === 'pending' || floor === 'pending') return 'pending';
    if (own === null) return floor;
    return floor === null || own > floor ? own : floor;
  }

  /**
   * A new primary was accepted (lib/routing/lag-tracker primaryReplaced): positions remembered on
   * the old timeline may be past anything the new one will have for a long while (writes lost with
   * the old primary). Every scope that wrote waits instead for the new primary's position read by
   * the probe sent at `since` (or a later one), which is at or past every write that survived.
   * O(scopes), once per failover.
   */
  rebase(since: number): void {
    // Fences resolve with a probe sent strictly after them: just before `since`.
    const at = Math.max(0, since - 0.001);
    const fenced = (e: Entry): void => {
      if (e.lsn === null && e.fence < 0) return;
      e.lsn = null;
      e.fence = Math.max(e.fence, at);
    };
    for (const e of this.entries.values()) fenced(e);
    for (const e of this.keys.values()) fenced(e);
    fenced(this.floor);
  }

  /** Keys held now (SHOW KEYS and specs). */
  get keyCount(): number {
    return this.keys.size;
  }

  /** The scope ended (a client disconnected, for scope 'connection'). */
  forget(key: string): void {
    this.entries.delete(key);
    this.keys.delete(key);
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
    if (this.keys.size > 0 && ++this.prunes >= KEY_SWEEP_EVERY) {
      this.prunes = 0;
      for (const [key, e] of this.keys.entries()) if (e.fence < 0 && e.lsn !== null && e.lsn <= min) this.keys.delete(key);
    }
    if (this.floor.fence < 0 && this.floor.lsn !== null && this.floor.lsn <= min) this.floor.lsn = null;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** An entry's position, resolving its fence with the primary's polled position when it can. */
function resolve(e: Entry, primary: PrimaryPositions): WriteLsn {
  if (e.fence >= 0) {
    const polled = primary.primaryLsnSince(e.fence);
    if (polled === undefined) return 'pending';
    e.fence = -1;
    if (e.lsn === null || polled > e.lsn) e.lsn = polled;
  }
  return e.lsn;
}
