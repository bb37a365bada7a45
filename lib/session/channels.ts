// Owns LISTEN/NOTIFY in transaction and statement pooling: per (database, user) one hub whose
// listener connection (./listener) LISTENs on the union of its clients' channels, and per client
// the channels it listens on, what its open transaction changes, and the notifications waiting
// for it to be between messages.
//
// A channel is LISTENed on the listener while any client listens on it or has LISTENed on it in a
// transaction not yet ended (a reservation: by COMMIT the listener is already listening); it is
// UNLISTENed when the last one leaves, and the connection closes when no channel is left. When
// the connection is lost, the hub dials the database's primary again (a new one after failover),
// LISTENs on every channel, and warns each listening client that it may have missed some.

import type { Connect } from '../connect';
import { noticeResponse, type ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import { log } from '../log';
import { ListenerConnection, quoteChannel, type ListenerEvents, type ListenerLogin } from './listener';

/** The client as its channels see it (lib/client/client-connection implements it). */
export interface NotificationSink {
  /** Whether bytes written now reach the client between messages of nothing else (idle, not in a transaction). */
  readonly betweenMessages: boolean;
  writeToClient(bytes: Buffer): void;
  /** Bytes queued on the client's socket not yet taken by the kernel. */
  readonly unsentBytes: number;
}

/** Where a hub's listener connects: the database's primary, as the hub's pools' servers do. */
export interface HubTarget {
  /** The primary's dialer now, or null while a failover looks for one. */
  connect(): Connect | null;
  login(): ListenerLogin;
  /** The database's name, for messages. */
  readonly database: string;
  /** `database/user`, for the log. */
  readonly label: string;
}

/** Notifications kept for a busy client, at most; past this they are dropped (and it is told). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Waits before dialing again after a lost or refused listener connection (or while a failover looks for the primary): grows up to the last. */
const RETRY_MS = [50, 100, 250, 500, 1000];

/** The hubs, one per (database, user); composed in lib/pgmux.ts. */
export class Notifications {
  private readonly hubs = new Map<string, ChannelHub>();

  constructor(
    /** How long a client's LISTEN waits for the listener to come up before it is refused. */
    private readonly waitMs: () => number,
  ) {}

  /** The hub for `key` (a pool's database and user), made with `target` the first time. */
  hub(key: string, target: () => HubTarget): ChannelHub {
    let hub = this.hubs.get(key);
    if (hub === undefined) {
      hub = new ChannelHub(target(), this.waitMs);
      this.hubs.set(key, hub);
    }
    return hub;
  }

  /**
   * The host dialed with `connect` is no longer the primary (a failover moved it, the old one maybe
   * frozen and silent): each listener connection there is dropped as lost, dials the new primary
   * and warns its clients that notifications may have been missed.
   */
  hostLeft(connect: Connect, reason: string): void {
    for (const hub of this.hubs.values()) hub.hostLeft(connect, reason);
  }

  /** Shutdown: every listener connection ends and none is dialed again. */
  closeAll(): void {
    for (const hub of this.hubs.values()) hub.shutdown();
  }
}

interface Waiter {
  readonly channels: readonly string[];
  readonly done: (error: ErrorFields | null) => void;
  readonly timer: NodeJS.Timeout;
}

export class ChannelHub implements ListenerEvents {
  /** Clients listening on each channel (committed LISTENs), in the order they listened. */
  private readonly listeners = new Map<string, Set<ListenSession>>();
  /** References per channel: listening clients plus reservations of transactions still open. */
  private readonly refs = new Map<string, number>();
  /** Channels the current connection has confirmed LISTENing on. */
  private readonly active = new Set<string>();
  private readonly waiters: Waiter[] = [];
  private conn: ListenerConnection | null = null;
  /** The dialer `conn` came from (its host's). */
  private dialedWith: Connect | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retries = 0;
  /** Why the last connection was lost while clients listened (they are warned once it is back); null when none was. */
  private lostBecause: string | null = null;
  private stopped = false;

  constructor(
    private readonly target: HubTarget,
    private readonly waitMs: () => number,
  ) {}

  get connected(): boolean {
    return this.conn !== null && this.conn.ready;
  }

  /** A session for one client. */
  session(sink: NotificationSink): ListenSession {
    return new ListenSession(this, sink);
  }

  /** `session` listens on `channel` from now on. */
  subscribe(session: ListenSession, channel: string): void {
    let set = this.listeners.get(channel);
    if (set === undefined) this.listeners.set(channel, (set = new Set()));
    set.add(session);
    this.acquire(channel);
  }

  unsubscribe(session: ListenSession, channel: string): void {
    const set = this.listeners.get(channel);
    if (set === undefined || !set.delete(session)) return;
    if (set.size === 0) this.listeners.delete(channel);
    this.release(channel);
  }

  /** Keeps `channel` LISTENed (a LISTEN in an open transaction) until release(). */
  acquire(channel: string): void {
    const n = this.refs.get(channel) ?? 0;
    this.refs.set(channel, n + 1);
    if (n > 0) return;
    if (this.connected) this.listen([channel]);
    else this.ensureConnection();
  }

  release(channel: string): void {
    const n = this.refs.get(channel) ?? 0;
    if (n > 1) {
      this.refs.set(channel, n - 1);
      return;
    }
    this.refs.delete(channel);
    if (this.active.delete(channel) && this.connected) (this.conn as ListenerConnection).send(`UNLISTEN ${quoteChannel(channel)}`, null);
    if (this.refs.size === 0 && this.waiters.length === 0) this.closeConnection('no channel is listened on');
  }

  /** Whether the listener LISTENs on all of `channels` now. */
  listeningOn(channels: readonly string[]): boolean {
    return channels.every((c) => this.active.has(c));
  }

  /** Calls `done` once every one of `channels` is LISTENed on the listener (null), or with why it cannot be. */
  whenListening(channels: readonly string[], done: (error: ErrorFields | null) => void): void {
    if (channels.every((c) => this.active.has(c))) {
      done(null);
      return;
    }
    const waiter: Waiter = {
      channels,
      done,
      timer: setTimeout(() => this.failWaiter(waiter, refusals.listenerUnavailable(this.target.database, `no connection within ${this.waitMs()} ms`)), this.waitMs()),
    };
    waiter.timer.unref();
    this.waiters.push(waiter);
    this.ensureConnection();
  }

  /** ListenerEvents: delivered to every client listening on the channel, in the order they come. */
  notification(frame: Buffer, channel: string): void {
    const set = this.listeners.get(channel);
    if (set === undefined) return;
    for (const session of set) session.deliver(frame);
  }

  /** ListenerEvents: logged in; LISTEN on every channel wanted now. */
  listenerReady(conn: ListenerConnection): void {
    if (conn !== this.conn) return;
    this.retries = 0;
    const channels = [...this.refs.keys()];
    if (channels.length === 0) {
      this.closeConnection('no channel is listened on');
      return;
    }
    const lost = this.lostBecause;
    this.listen(channels, () => {
      if (lost === null || conn !== this.conn) return;
      this.lostBecause = null;
      log.warn(`listener connection of ${this.target.label} is back (pid ${conn.pid}), LISTENing on ${channels.length} channels; notifications sent while it was lost (${lost}) may have been missed`);
      const notice = noticeResponse(refusals.notificationsMayBeMissed(this.target.database, lost));
      const told = new Set<ListenSession>();
      for (const set of this.listeners.values()) for (const s of set) if (!told.has(s)) {
        told.add(s);
        s.deliver(notice);
      }
    });
  }

  /** ListenerEvents: the connection is gone; dial again while any channel is wanted. */
  listenerClosed(conn: ListenerConnection, reason: string, error: ErrorFields | null): void {
    if (conn !== this.conn) return;
    this.conn = null;
    const wasListening = this.active.size > 0;
    this.active.clear();
    if (this.stopped) return;
    if (wasListening && this.listeners.size > 0) {
      this.lostBecause ??= reason;
      log.warn(`listener connection of ${this.target.label} lost: ${reason}; connecting again`);
    } else if (this.refs.size > 0 || this.waiters.length > 0) {
      log.warn(`listener connection of ${this.target.label} failed: ${reason}`);
    }
    // Clients waiting for their LISTEN hear why it cannot be done now (a refused login, an unreachable server).
    const refusal = error !== null ? { ...error, severity: 'ERROR' as const } : refusals.listenerUnavailable(this.target.database, reason);
    if (!wasListening) for (const w of this.waiters.splice(0)) this.finishWaiter(w, refusal);
    if (this.refs.size > 0 || this.waiters.length > 0) this.scheduleRetry();
  }

  /** Shutdown: the connection ends, nothing dials again. */
  shutdown(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const conn = this.conn;
    this.conn = null;
    conn?.close('shutdown');
    for (const w of this.waiters.splice(0)) this.finishWaiter(w, refusals.listenerUnavailable(this.target.database, 'pgmux is shutting down'));
  }

  private listen(channels: readonly string[], then?: () => void): void {
    const conn = this.conn as ListenerConnection;
    conn.send(channels.map((c) => `LISTEN ${quoteChannel(c)}`).join('; '), (error) => {
      if (conn !== this.conn) return;
      if (error !== null) {
        // A channel name the server refuses (not expected: any identifier may be LISTENed on).
        log.warn(`listener connection of ${this.target.label}: LISTEN failed: ${error}`);
        conn.close(`LISTEN failed: ${error}`);
        return;
      }
      for (const c of channels) if (this.refs.has(c)) this.active.add(c);
      this.settleWaiters();
      then?.();
    });
  }

  private settleWaiters(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i];
      if (w.channels.every((c) => this.active.has(c) || !this.refs.has(c))) {
        this.waiters.splice(i, 1);
        this.finishWaiter(w, null);
      } else i++;
    }
  }

  private failWaiter(w: Waiter, error: ErrorFields): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    w.done(error);
  }

  private finishWaiter(w: Waiter, error: ErrorFields | null): void {
    clearTimeout(w.timer);
    w.done(error);
  }

  private ensureConnection(): void {
    if (this.conn !== null || this.retryTimer !== null || this.stopped) return;
    const connect = this.target.connect();
    if (connect === null) {
      // A failover is looking for the primary: look again shortly.
      this.scheduleRetry();
      return;
    }
    this.dialedWith = connect;
    this.conn = new ListenerConnection(connect, this.target.login(), this);
  }

  /** Notifications.hostLeft: the connection, if dialed with `connect`, ends as lost (listenerClosed dials again). */
  hostLeft(connect: Connect, reason: string): void {
    if (this.conn !== null && this.dialedWith === connect) this.conn.close(reason);
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.stopped) return;
    const ms = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    this.retries++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.refs.size > 0 || this.waiters.length > 0) this.ensureConnection();
    }, ms);
    this.retryTimer.unref();
  }

  private closeConnection(reason: string): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    this.active.clear();
    this.lostBecause = null;
    conn.close(reason);
  }
}

/** One action of an open transaction, applied at COMMIT in order. */
type TxAction = { readonly kind: 'listen'; readonly channel: string } | { readonly kind: 'unlisten'; readonly channel: string | null };

/**
 * One client's channels (its pg_listening_channels()), the LISTEN/UNLISTEN of its open
 * transaction, and the notifications waiting for it. Made at its first LISTEN.
 */
export class ListenSession {
  /** Channels the client listens on, in the order it listened (what pg_listening_channels() returns). */
  readonly channels = new Set<string>();
  /** LISTEN/UNLISTEN of the open transaction; null when it made none. */
  private tx: TxAction[] | null = null;
  /** Channels reserved on the hub for the open transaction's LISTENs. */
  private reserved: string[] = [];
  /** The open transaction asked to COMMIT (and no error came since). */
  private committing = false;
  /** The open transaction failed: it ends in a rollback whatever the client sends. */
  private failed = false;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private closed = false;

  constructor(
    readonly hub: ChannelHub,
    private readonly sink: NotificationSink,
  ) {}

  /** Whether the open transaction has LISTEN/UNLISTEN waiting for its end. */
  get inTransaction(): boolean {
    return this.tx !== null;
  }

  /** Whether there is anything to pgmux's pg_listening_channels() or a DISCARD ALL. */
  get listening(): boolean {
    return this.channels.size > 0;
  }

  /** LISTEN outside a transaction: listening from now on. Returns whether it is new (the caller waits for the listener). */
  listen(channel: string): boolean {
    if (this.channels.has(channel)) return false;
    this.channels.add(channel);
    this.hub.subscribe(this, channel);
    return true;
  }

  /** UNLISTEN outside a transaction; null: UNLISTEN * (and DISCARD ALL). */
  unlisten(channel: string | null): void {
    if (channel !== null) {
      if (this.channels.delete(channel)) this.hub.unsubscribe(this, channel);
      return;
    }
    for (const c of this.channels) this.hub.unsubscribe(this, c);
    this.channels.clear();
  }

  /** LISTEN/UNLISTEN inside a transaction: takes effect at COMMIT (PostgreSQL's order), dropped at ROLLBACK. */
  inTx(action: TxAction): void {
    (this.tx ??= []).push(action);
    if (action.kind === 'listen' && action.channel !== null) {
      // Listened on now, so that by COMMIT nothing notified after it can be missed.
      this.reserved.push(action.channel);
      this.hub.acquire(action.channel);
    }
  }

  /** The client sent COMMIT or END in the open transaction: its actions apply if that succeeds. */
  commitSeen(): void {
    if (this.tx !== null) this.committing = !this.failed;
  }

  /**
   * The client sent ROLLBACK (also ROLLBACK TO SAVEPOINT), ABORT or PREPARE TRANSACTION: the
   * actions so far are dropped. Savepoints are not tracked, so after ROLLBACK TO the transaction
   * goes on without any of its earlier LISTEN/UNLISTEN, never with one it did not keep.
   */
  rollbackSeen(): void {
    if (this.tx === null) return;
    this.tx = [];
    this.committing = false;
  }

  /** An ErrorResponse reached the client while its transaction had LISTEN/UNLISTEN: it will not commit them. */
  errorSeen(): void {
    if (this.tx !== null) {
      this.failed = true;
      this.committing = false;
    }
  }

  /**
   * A ReadyForQuery reached the client: 'E' fails the transaction; 'I' ends it, and its actions
   * apply when it ended with a COMMIT that succeeded.
   */
  ready(status: number): void {
    if (this.tx === null) return;
    if (status === 0x45) {
      this.failed = true;
      this.committing = false;
      return;
    }
    if (status !== 0x49) return;
    const actions = this.tx;
    const commit = this.committing && !this.failed;
    this.tx = null;
    this.committing = false;
    this.failed = false;
    if (commit) {
      for (const a of actions) {
        if (a.kind === 'listen') this.listen(a.channel);
        else this.unlisten(a.channel);
      }
    }
    for (const c of this.reserved) this.hub.release(c);
    this.reserved = [];
  }

  /** A notification (or a notice) for this client: written now when it is between messages, else queued. */
  deliver(frame: Buffer): void {
    if (this.closed) return;
    if (this.queue.length === 0 && this.sink.betweenMessages && this.sink.unsentBytes < MAX_QUEUED_BYTES) {
      this.sink.writeToClient(frame);
      return;
    }
    if (this.queuedBytes + frame.length > MAX_QUEUED_BYTES) {
      this.dropped++;
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
  }

  /** The client is between messages again (idle): what waited goes out, in order. */
  flush(): void {
    if (this.queue.length === 0 && this.dropped === 0) return;
    const parts = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.dropped > 0) {
      parts.push(noticeResponse(refusals.notificationsDropped(this.dropped)));
      this.dropped = 0;
    }
    this.sink.writeToClient(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }

  /** The client left: it listens on nothing from now on, and nothing more is delivered. */
  leave(): void {
    if (this.closed) return;
    this.closed = true;
    this.unlisten(null);
    if (this.tx !== null) this.tx = null;
    for (const c of this.reserved) this.hub.release(c);
    this.reserved = [];
    this.queue = [];
  }
}
