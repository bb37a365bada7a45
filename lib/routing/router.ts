// Owns the wiring of read/write splitting into the client path: per database with replicas a
// ReplicaSet (lag tracker, balancer, write scopes, classifier, replica pools), and per client a
// ClientRouter that classifies the batch an idle client sends, asks route() where it goes, and
// keeps the client's session route, pins, named statements and read_your_writes position.
//
// The decision is taken when an unlinked client sends something (the start of a transaction in
// transaction pooling, every statement in statement pooling). It looks at every complete message
// the client has sent so far: all must be readable on a replica, and a batch that ends in the
// middle of a message, or an extended-protocol batch without its Sync yet, goes to the primary,
// since what follows would run on the same server.

import { effective, type DatabaseDef, type HostEntry, type Settings } from '../config';
import type { Connect } from '../connect';
import { parseLagLimit, NO_LAG_LIMIT, type LagLimit } from '../config/routing';
import { FrontendCode } from '../protocol/codes';
import type { Pool } from '../pool/pool';
import { Level, log } from '../log';
import { makeBalancer, preferLocal, type Balancer } from './balance';
import { Classifier, withRoute, type Classification, type PinReason, type SessionRoute, type Target } from './classify';
import { stickySetting } from './classify-types';
import type { LagTracker, PollWaiter } from './lag-tracker';
import type { MonitorLogin } from './monitor';
import { formatLsn } from './lsn';
import { PreparedRoutes } from './prepared-routes';
import { Reason, route, type ReadYourWrites, type RouteContext, type RouteDecision, type WriteLsn } from './route';
import { VolatilityLookup } from './volatility';
import { appKey, scopeKey, WriteScopes } from './writes';
import { statementKey, withoutKey } from './consistency-key';
import { maskOf, Pin, PinCounts, type ClientPins } from '../session/pins';

/** A waiting client the set can send back through routing (its replica went away). */
export interface Reroutable {
  reroute(): void;
}

/** max_replica_lag as parsed (a database line may hold its text). */
export function lagLimit(value: unknown): LagLimit {
  if (typeof value === 'string') {
    const parsed = parseLagLimit(value);
    return parsed.ok ? parsed.limit : NO_LAG_LIMIT;
  }
  return (value as LagLimit | undefined) ?? NO_LAG_LIMIT;
}

/** What a replica set needs from the failover layer (lib/failover/topology.ts), which owns the hosts. */
export interface HostsFeed {
  /** The database's hosts' states and positions, fed by their probes. */
  readonly tracker: LagTracker;
  /** Every host of the database, in the tracker's index order. */
  readonly hosts: readonly HostEntry[];
  /** Dials the current primary (or, while there is none, a standby that answers: catalog reads only). */
  connectPrimary(): Connect;
  /** Moving average of host `index`'s probe round trips, ms; null while unknown. */
  latency(index: number): number | null;
}

/**
 * With workers > 1 (lib/workers/commit-share): a commit in a scope wider than the connection is
 * made known to every other worker, and `done` is called once they all have recorded it (or a
 * bounded wait for a slow one ran out), so a read on any worker after the client saw the commit
 * waits for it as a read on the same worker would.
 */
export interface CommitShare {
  publish(database: string, keys: readonly string[], done: () => void): void;
}

/** One database's replicas: health, balancing, write positions and a pool per (replica, user). */
export class ReplicaSet {
  readonly tracker: LagTracker;
  readonly balancer: Balancer;
  readonly writes: WriteScopes;
  /** Keyed reads (read_your_writes = key): decided, made to wait, and sent to the primary after the wait. */
  readonly keyed = { reads: 0, waits: 0, timeouts: 0 };
  readonly classifier: Classifier;
  /** User functions' pg_proc.provolatile, fetched from the primary at start and at RELOAD. */
  readonly volatility: VolatilityLookup;
  readonly replicaOnly: boolean;
  readonly readYourWrites: ReadYourWrites;
  readonly timeoutMs: number;
  /** Reads sent to each replica (SHOW REPLICAS reads_routed). */
  readonly routed: number[];
  /** Session pins of this database's routed clients by reason (metrics, status page): pinned now, and pinnings so far. */
  readonly pins = new PinCounts();
  /** Routing decisions by reason code (SHOW ROUTE's); distinct codes are few, capped all the same. */
  readonly reasons = new Map<string, number>();
  /** read_your_writes: reads that waited for a replica, waits that ran out, reads then sent to the primary. */
  readonly rywWaits = { waited: 0, timedOut: 0, primaryFallbacks: 0 };
  /** Replica pools by `${index}\u0000${serverUser}`. */
  readonly pools = new Map<string, Pool>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly db: DatabaseDef,
    readonly settings: Settings,
    hosts: HostsFeed,
    login: () => MonitorLogin,
    /** Workers > 1: the other workers hear of commits in the user, database and key scopes. */
    readonly shared: CommitShare | null = null,
  ) {
    const all = hosts.hosts;
    this.tracker = hosts.tracker;
    // Keyed reads wait for the primary's position at start: nothing is known of earlier writes
    // (with workers, neither is of other workers' writes in the user and database scopes).
    this.writes = new WriteScopes(effective(settings, 'read_your_writes_keys', db, undefined), hosts.tracker.now(), shared !== null);
    this.replicaOnly = db.route === 'replica';
    this.readYourWrites = effective(settings, 'read_your_writes', db, undefined);
    this.timeoutMs = effective(settings, 'read_your_writes_timeout', db, undefined) * 1000;
    this.routed = all.map(() => 0);
    // Replicas in pgmux's own zone take reads first.
    const sameZone = settings.zone === '' ? 0 : all.reduce((mask, h, i) => (h.zone === settings.zone ? mask | (1 << i) : mask), 0);
    const connectTimeout = Math.max(settings.server_connect_timeout, 1);
    // The classifier's cache holds answers given with the old lookup: forget them at each load.
    this.volatility = new VolatilityLookup(
      () => hosts.connectPrimary(),
      login,
      connectTimeout * 1000 + 5000,
      () => this.classifier.invalidate(),
      `database ${db.name}`,
    );
    this.classifier = new Classifier({
      writeFunctions: effective(settings, 'write_functions', db, undefined),
      readOnlyFunctions: effective(settings, 'read_only_functions', db, undefined),
      isVolatile: this.volatility.isVolatile,
    });
    this.balancer = preferLocal(
      makeBalancer(effective(settings, 'load_balance', db, undefined), all.map((r) => r.weight), {
        connections: (i) => this.serverCount(i),
        outstanding: (i) => this.outstanding(i),
        latency: (i) => hosts.latency(i),
      }),
      sameZone,
    );
    this.unsubscribe = this.tracker.on((event) => {
      if (event.kind === 'primary-replaced') this.writes.rebase(event.since);
      if (event.kind !== 'replica-state') return;
      const h = all[event.index];
      log.info(`host ${h.host ?? settings.unix_socket_dir}:${h.port} of ${db.name} for reads: ${event.from} -> ${event.to} (${event.reason})`);
      if (event.to !== 'up') this.rerouteWaiting(event.index);
    });
    this.volatility.refresh();
  }

  /** Requests running on or queued for replica `index`, over all its pools (least_outstanding). */
  outstanding(index: number): number {
    let n = 0;
    for (const [key, pool] of this.pools) if (key.startsWith(`${index}\u0000`)) n += pool.active.size + pool.waiting.size;
    return n;
  }

  /** Server connections open to replica `index`, over all its pools (least_connections). */
  serverCount(index: number): number {
    let n = 0;
    for (const [key, pool] of this.pools) if (key.startsWith(`${index}\u0000`)) n += pool.serverCount;
    return n;
  }

  /**
   * Replica `index` left rotation: clients queued in its pools route again (to another replica
   * or the primary) instead of waiting for a server that may not come.
   */
  private rerouteWaiting(index: number): void {
    for (const [key, pool] of this.pools) {
      if (!key.startsWith(`${index}\u0000`)) continue;
      const queued: Reroutable[] = [];
      while (pool.waiting.size > 0) queued.push(pool.waiting.shift() as unknown as Reroutable);
      for (const c of queued) c.reroute();
    }
  }

  /**
   * Another worker's commit in these scopes (lib/workers/commit-share), recorded as its note
   * arrives: the commit was acknowledged before, so any primary position polled from now on is
   * at or past it (a fence, as for a commit on this worker).
   */
  noteShared(keys: readonly string[]): void {
    const now = this.tracker.now();
    for (const k of keys) this.writes.committed(k, now);
  }

  stopped = false;

  /** RELOAD removed or changed the database, or shutdown: no more polls. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.volatility.stop();
  }

  /**
   * One decision taken (not a wait): by reason, and for read_your_writes whether a wait ran out
   * and the read fell back to the primary.
   */
  countDecision(reason: string, waitExpired: boolean): void {
    const n = this.reasons.get(reason);
    if (n !== undefined) this.reasons.set(reason, n + 1);
    else this.reasons.set(this.reasons.size < MAX_REASONS ? reason : OTHER_REASON, (this.reasons.get(OTHER_REASON) ?? 0) + 1);
    if (!waitExpired) return;
    if (this.timeoutMs > 0) this.rywWaits.timedOut++;
    if (reason === Reason.tooStale) this.rywWaits.primaryFallbacks++;
  }

  /**
   * What SHOW ROUTE answers for `sql` from a fresh client with no session state; a statement
   * carrying a consistency key (read_your_writes = key) is decided against that key's last write.
   */
  explain(sql: string, rule: RuleRoute | null = null): { classification: Classification; decision: RouteDecision } {
    const own = this.classifier.classify(withoutKey(sql));
    const classification = rule === null ? own : withRoute(own, rule.to, `rule ${rule.rule}`);
    const key = this.readYourWrites === 'key' ? statementKey(sql) : null;
    const decision = route({
      statement: classification,
      tx: 'idle',
      sessionRoute: 'auto',
      pins: [],
      replicas: this.tracker.replicas,
      readYourWrites: this.readYourWrites,
      writeLsn: key === null ? null : this.writes.writeLsn(appKey(key), this.tracker),
      waitExpired: false,
      replicaOnly: this.replicaOnly,
    });
    return { classification, decision };
  }
}

/** A [rules] route= for a batch: the target and the rule's name (lib/rules keeps the rules; routing only obeys). */
export interface RuleRoute {
  readonly to: 'primary' | 'replica';
  readonly rule: string;
}

/** Where an idle client's batch goes. */
export type Placement =
  /** readOnly: the batch only reads (classified for a replica), so it may run twice (lib/client/resend). */
  | { readonly kind: 'pool'; readonly pool: Pool; readonly primary: boolean; readonly readOnly: boolean }
  | { readonly kind: 'wait' }
  | { readonly kind: 'refuse'; readonly reason: string };

/** Distinct reason codes counted per database before the rest are counted as OTHER_REASON (codes name user functions). */
const MAX_REASONS = 200;
const OTHER_REASON = 'other';

const NOT_CLASSIFIED: Classification = { target: 'primary', reason: 'primary: not a complete batch', tier: 'lexer' };
const UNKNOWN_STATEMENT: Classification = { target: 'primary', reason: 'primary: statement not prepared through pgmux', tier: 'lexer' };
const NAMED_UNTRACKED: Classification = { target: 'primary', reason: 'primary: named statement (max_prepared_statements = 0)', tier: 'lexer' };
const SQL_PREPARE = /^\s*prepare\s/i;
const OTHER_MESSAGE: Classification = { target: 'primary', reason: 'primary: function call or copy', tier: 'lexer' };

/** One client's routing state. */
export class ClientRouter implements PollWaiter {
  sessionRoute: SessionRoute = 'auto';
  /** What the client's prepared statements hold, from their Parse or SQL PREPARE. */
  private readonly prepared: PreparedRoutes;
  /** When the current wait began (tracker clock); -1 when not waiting. */
  private waitStart = -1;
  /** Linked to a primary server now. */
  onPrimary = false;
  /** The primary transaction in progress may have written: record its commit. */
  private mayWrite = false;
  private readonly key: string | null;
  /** `SET pgmux.key`: the session's consistency key (read_your_writes = key), or null. */
  sessionKey: string | null = null;
  /** Keys the transaction in progress carried (read_your_writes = key): its commit is theirs too. */
  private txKeys: string[] | null = null;
  /**
   * The Query and Parse frames of the batch place() read last (when it came in one chunk), in
   * order: observeFrame takes each as the batch is forwarded, instead of decoding and classifying
   * it a second time. The first `placedCount` are in use, from `placedNext` on not yet taken;
   * the objects are reused from batch to batch. Let go once the batch is fed (placedFed).
   */
  private readonly placed: PlacedStatement[] = [];
  private placedCount = 0;
  private placedNext = 0;

  constructor(
    readonly set: ReplicaSet,
    private readonly clientId: number,
    user: string,
    private readonly primaryPool: Pool,
    private readonly replicaPool: (index: number) => Pool,
    /** Called when a waiting client should decide again (a poll answered). */
    private readonly wake: () => void,
    /**
     * Named statements are re-prepared on whichever server runs them (max_prepared_statements
     * > 0). Without that, a named statement exists only where its Parse ran: the primary.
     */
    private readonly tracksStatements: boolean,
    /**
     * The client's session pins (lib/session/pins), the one account: the router records the
     * route pins (SET, LISTEN) of what it observes there, and reads every pin when it places.
     */
    private readonly account: ClientPins,
  ) {
    account.countIn(set.pins);
    this.key = scopeKey(set.readYourWrites, clientId, user, set.db.name);
    this.prepared = new PreparedRoutes(tracksStatements);
  }

  /**
   * Decides where the batch in `pending` (the client's unsent bytes) goes. `rule`: a [rules]
   * route= that matched it (lib/rules), which counts as the statement's hint would.
   */
  place(pending: readonly Buffer[], rule: RuleRoute | null = null): Placement {
    const set = this.set;
    // RELOAD replaced this database's replica set: until the client reconnects, the primary.
    if (set.stopped) return { kind: 'pool', pool: this.primaryPool, primary: true, readOnly: false };
    const scanned = this.scan(pending);
    const { pins, key: batchKey } = scanned;
    const statement = rule === null ? scanned.statement : withRoute(scanned.statement, rule.to, `rule ${rule.rule}`);
    const readOnly = statement.target === 'replica';
    const key = set.readYourWrites === 'key' ? (batchKey ?? this.sessionKey) : null;
    const tracker = set.tracker;
    const waitExpired = this.waitStart >= 0 && (set.timeoutMs <= 0 || tracker.now() - this.waitStart >= set.timeoutMs);
    const ctx: RouteContext = {
      statement,
      tx: 'idle',
      sessionRoute: this.sessionRoute,
      pins: [...this.account.reasons(), ...pins],
      replicas: tracker.replicas,
      readYourWrites: set.readYourWrites,
      // A keyed read sees its key's writes and the connection's own.
      writeLsn: key === null ? set.writes.writeLsn(this.key, tracker) : laterWrite(set.writes.writeLsn(appKey(key), tracker), set.writes.writeLsn(this.key, tracker)),
      waitExpired,
      replicaOnly: set.replicaOnly,
    };
    const decision = route(ctx);
    if (key !== null && readOnly) this.countKeyed(decision.kind, waitExpired);
    if (log.enabled(Level.Debug)) {
      const lsn = ctx.writeLsn === null || ctx.writeLsn === 'pending' ? String(ctx.writeLsn) : formatLsn(ctx.writeLsn);
      log.debug(`route C-${this.clientId}: ${decision.reason} (${statement.reason}; write ${lsn})`);
    }
    if (decision.kind !== 'wait') set.countDecision(decision.reason, waitExpired);
    switch (decision.kind) {
      case 'primary':
        this.waitStart = -1;
        this.onPrimary = true;
        // A SET that follows the client runs on the primary but writes nothing to wait for.
        this.mayWrite = statement.target !== 'replica' && statement.onlySettings !== true;
        return { kind: 'pool', pool: this.primaryPool, primary: true, readOnly };
      case 'replica': {
        this.waitStart = -1;
        const index = set.balancer.pick(decision.replicas);
        if (index < 0) return { kind: 'pool', pool: this.primaryPool, primary: true, readOnly };
        set.routed[index]++;
        this.onPrimary = false;
        this.mayWrite = false;
        return { kind: 'pool', pool: this.replicaPool(index), primary: false, readOnly };
      }
      case 'wait':
        if (this.waitStart < 0 && set.timeoutMs > 0) set.rywWaits.waited++;
        if (set.timeoutMs <= 0 && this.waitStart < 0) {
          // read_your_writes_timeout = 0: no waiting; decide again with the wait expired.
          this.waitStart = tracker.now() - 1;
          return this.place(pending);
        }
        if (this.waitStart < 0) this.waitStart = tracker.now();
        if (decision.until === 'pending') tracker.pollSoon();
        tracker.wakeOnPoll(this);
        return { kind: 'wait' };
      case 'refuse':
        this.waitStart = -1;
        return { kind: 'refuse', reason: decision.reason };
    }
  }

  /** A keyed read's decision, for the counters (SHOW and metrics). */
  private countKeyed(kind: RouteDecision['kind'], waitExpired: boolean): void {
    const k = this.set.keyed;
    if (kind === 'wait') {
      if (this.waitStart < 0) k.waits++;
      return;
    }
    k.reads++;
    if (waitExpired && kind === 'primary') k.timeouts++;
  }

  /** PollWaiter: a poll answered; the client decides again. */
  pollWake(): void {
    this.wake();
  }

  /**
   * A statement forwarded to a server (Query, or Parse when statements are tracked): session
   * route and pins follow it, and on the primary it may make the transaction a write.
   */
  observe(sql: string, statementName: string | null): Target {
    return this.observeClassified(sql, statementName, this.set.classifier.classify(withoutKey(sql)));
  }

  /**
   * A forwarded Query or Parse frame (buf[start] is its type byte), observed as observe() does:
   * one that place() read already is taken from there, the rest are decoded here.
   */
  observeFrame(type: number, buf: Buffer, start: number, end: number): Target | null {
    for (let i = this.placedNext; i < this.placedCount; i++) {
      const p = this.placed[i];
      // The very frame place() read: the same chunk, the same offset.
      if (p.buf !== buf || p.at !== start) continue;
      this.placedNext = i + 1;
      return this.observeClassified(p.text, p.name, p.classification ?? this.set.classifier.classify(withoutKey(p.text)));
    }
    let pos = start + 5;
    let name: string | null = null;
    if (type === FrontendCode.Parse) {
      const nul = buf.indexOf(0, pos);
      if (nul < 0 || nul >= end) return null;
      name = buf.toString('utf8', pos, nul);
      pos = nul + 1;
    }
    const nul = buf.indexOf(0, pos);
    return this.observe(buf.toString('utf8', pos, nul < 0 || nul >= end ? end : nul), name);
  }

  /** The batch place() read has been fed to the server: what it kept of it goes. */
  placedFed(): void {
    for (let i = 0; i < this.placedCount; i++) this.placed[i].buf = null;
    this.placedCount = 0;
    this.placedNext = 0;
  }

  private observeClassified(sql: string, statementName: string | null, c: Classification): Target {
    if (statementName !== null && statementName !== '') this.prepared.parsed(statementName, c);
    // What it PREPAREs and DEALLOCATEs is recorded; an EXECUTE of a read is no write.
    const resolved = this.prepared.resolve(c);
    this.apply(c);
    if (this.onPrimary && resolved.target === 'primary' && resolved.onlySettings !== true) {
      this.mayWrite = true;
      if (this.set.readYourWrites === 'key') {
        const key = statementKey(sql) ?? this.sessionKey;
        if (key !== null) (this.txKeys ??= []).push(key);
      }
    }
    return resolved.target;
  }

  /**
   * Whether the transaction ending at this ReadyForQuery 'I' must be made known to the other
   * workers before the client sees it: workers > 1, it may have written on the primary, and its
   * scope is wider than the connection (user, database, or keys it carried).
   */
  get sharesCommit(): boolean {
    return this.set.shared !== null && this.onPrimary && this.mayWrite && this.key !== null && (this.key.charCodeAt(0) !== 0x63 /* c */ || this.txKeys !== null);
  }

  /**
   * ReadyForQuery 'I' on the linked server: a primary transaction that may have written committed.
   * `shared`: when sharesCommit, called once every other worker has recorded it.
   */
  transactionEnded(shared: (() => void) | null = null): void {
    let keys: string[] | null = null;
    if (this.onPrimary && this.mayWrite && this.key !== null) {
      const now = this.set.tracker.now();
      this.set.writes.committed(this.key, now);
      if (this.txKeys !== null) for (const k of this.txKeys) this.set.writes.committed(appKey(k), now);
      if (shared !== null && this.set.shared !== null) {
        keys = this.key.charCodeAt(0) === 0x63 /* c */ ? [] : [this.key];
        if (this.txKeys !== null) for (const k of this.txKeys) keys.push(appKey(k));
      }
    }
    this.txKeys = null;
    this.mayWrite = false;
    if (shared === null) return;
    if (keys === null || keys.length === 0 || this.set.shared === null) shared();
    else this.set.shared.publish(this.set.db.name, keys, shared);
  }

  /**
   * The client's session settings from its startup packet (`options=-c`, other parameters), which no statement
   * shows the classifier: one that must keep it on the primary (stickySetting, e.g.
   * default_transaction_isolation) pins it as its SET would have.
   */
  startupSettings(names: Iterable<string>): void {
    for (const name of names) {
      if (!stickySetting(name)) continue;
      this.account.route(Pin.set, 0);
      return;
    }
  }

  /** A write of the client's scope that reads must still wait for (a restart carries it to the client's new process). */
  get writePending(): boolean {
    return this.key !== null && this.set.writes.writeLsn(this.key, this.set.tracker) !== null;
  }

  /**
   * The client was carried from another process with a write its reads still waited for: they
   * wait for the primary's position from now on, which is at or past that write.
   */
  carriedWrite(): void {
    if (this.key !== null) this.set.writes.committed(this.key, this.set.tracker.now());
  }

  /** The client closed: stop waiting, forget its connection-scoped write. */
  closed(): void {
    this.set.tracker.cancelWake(this);
    if ((this.set.readYourWrites === 'connection' || this.set.readYourWrites === 'key') && this.key !== null) this.set.writes.forget(this.key);
  }

  private apply(c: Classification): void {
    // Server pins (temp tables, locks, cursors) are the client's to record (lib/client/pin-watch),
    // and only it knows when they go. A SET that follows the client (lib/session/settings) pins nothing.
    if (c.pins !== undefined || c.unpins !== undefined) {
      const pins = c.setFollows === true ? maskOf(c.pins) & ~Pin.set : maskOf(c.pins);
      this.account.route(pins, maskOf(c.unpins));
    }
    if (c.sessionRoute !== undefined) this.sessionRoute = c.sessionRoute;
    if (c.sessionKey !== undefined) this.sessionKey = c.sessionKey;
  }

  private keepPlaced(buf: Buffer, at: number, text: string, name: string | null, c: Classification | null): void {
    let p = this.placed[this.placedCount];
    if (p === undefined) this.placed.push((p = new PlacedStatement()));
    this.placedCount++;
    p.buf = buf;
    p.at = at;
    p.text = text;
    p.name = name;
    p.classification = c;
  }

  /**
   * The combined classification of every message in `pending`: the first one that needs the
   * primary, else the first statement's. Pins of the batch are returned, not kept: they are kept
   * when the statement is forwarded (observe).
   */
  private scan(pending: readonly Buffer[]): { statement: Classification; pins: PinReason[]; key: string | null } {
    this.placedFed();
    // A batch in several chunks is read from a copy: observeFrame could not know its frames again.
    const keeps = pending.length === 1;
    const buf = keeps ? pending[0] : Buffer.concat(pending);
    let pos = 0;
    let first: Classification | null = null;
    let primary: Classification | null = null;
    let extended = false;
    let synced = false;
    const pins: PinReason[] = [];
    // The batch's consistency key: the first statement that carries one.
    let key: string | null = null;
    // Statements prepared earlier in this batch (observed only once forwarded).
    const batch = this.prepared.pending();
    const note = (c: Classification): void => {
      first ??= c;
      if (c.target === 'primary') primary ??= c;
      // A SET that follows the client (lib/session/settings) pins nothing.
      if (c.pins !== undefined) for (const p of c.pins) if (p !== 'set' || c.setFollows !== true) pins.push(p);
      // SET pgmux.route in the batch counts for the batch itself.
      if (c.sessionRoute === 'primary') primary ??= c;
    };
    while (pos < buf.length) {
      if (pos + 5 > buf.length) return { statement: NOT_CLASSIFIED, pins, key };
      const type = buf[pos];
      const len = buf.readInt32BE(pos + 1);
      const end = pos + 1 + len;
      if (len < 4 || end > buf.length) return { statement: NOT_CLASSIFIED, pins, key };
      const body = pos + 5;
      switch (type) {
        case FrontendCode.Query: {
          const sql = cstring(buf, body, end);
          key ??= statementKey(sql.text);
          // SQL-level PREPARE is re-prepared per server only when statements are tracked.
          const untracked = !this.tracksStatements && SQL_PREPARE.test(sql.text);
          const c = untracked ? null : this.set.classifier.classify(withoutKey(sql.text));
          if (keeps) this.keepPlaced(buf, pos, sql.text, null, c);
          note(c === null ? NAMED_UNTRACKED : this.prepared.resolve(c, batch));
          break;
        }
        case FrontendCode.Parse: {
          extended = true;
          const name = cstring(buf, body, end);
          const sql = cstring(buf, name.next, end);
          key ??= statementKey(sql.text);
          const c = this.set.classifier.classify(withoutKey(sql.text));
          if (keeps) this.keepPlaced(buf, pos, sql.text, name.text, c);
          batch.set(name.text, c);
          note(name.text !== '' && !this.tracksStatements ? NAMED_UNTRACKED : c);
          break;
        }
        case FrontendCode.Bind: {
          extended = true;
          const portal = cstring(buf, body, end);
          const name = cstring(buf, portal.next, end);
          note(batch.get(name.text) ?? UNKNOWN_STATEMENT);
          break;
        }
        case FrontendCode.Sync:
          synced = true;
          break;
        case FrontendCode.Describe:
        case FrontendCode.Execute:
        case FrontendCode.Close:
        case FrontendCode.Flush:
          extended = true;
          break;
        default:
          note(OTHER_MESSAGE);
      }
      pos = end;
    }
    if (extended && !synced) return { statement: NOT_CLASSIFIED, pins, key };
    return { statement: primary ?? first ?? NOT_CLASSIFIED, pins, key };
  }
}

/** A Query or Parse of the batch place() read (ClientRouter.placed). */
class PlacedStatement {
  /** The chunk it lay in; null once the batch was fed. */
  buf: Buffer | null = null;
  /** Where its frame began in `buf` (its type byte). */
  at = 0;
  text = '';
  /** A Parse's statement name ('' unnamed); null for a Query. */
  name: string | null = null;
  /** How the classifier read it; null when place() did not ask (observeFrame then does). */
  classification: Classification | null = null;
}

/** The later of two writes route() must wait for ('pending' when either is unresolved). */
function laterWrite(a: WriteLsn, b: WriteLsn): WriteLsn {
  if (a === 'pending' || b === 'pending') return 'pending';
  if (a === null) return b;
  return b === null || a > b ? a : b;
}

function cstring(buf: Buffer, start: number, end: number): { text: string; next: number } {
  const nul = buf.indexOf(0, start);
  const stop = nul < 0 || nul >= end ? end : nul;
  return { text: buf.toString('utf8', start, stop), next: stop + 1 };
}
