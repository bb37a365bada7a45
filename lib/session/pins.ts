// Owns the one account of what pins a client in transaction (and statement) pooling: session
// state that exists only on one server. Two kinds:
// - server pins (temp-table, advisory-lock, with-hold-cursor, prepared-xact): the client keeps
//   the server it made them on until they are gone (lib/client/client-connection asks here at
//   each ReadyForQuery 'I');
// - route pins (set): for a routed database, reads go to the primary (lib/routing/router
//   reads them here); the server goes back to the pool as usual.
//
// How a server pin is known, and why it is never counted. A statement that creates such state
// pins the client when it is forwarded (the classifier's `pins`). Counting releases exactly is
// not possible from the text: a lock can be taken twice, pg_advisory_unlock(k) returns false for
// a key not held, DROP TABLE may name a permanent table, a transaction may roll back (its temp
// tables and cursors go with it; advisory locks do not), a statement may fail. So pgmux does
// not count: at the end of a transaction that created server pins, or that ran a statement that
// may release them (its text names DROP, DISCARD, CLOSE, UNLOCK or PREPARED), it asks the server
// what remains (checkSql) and keeps the pins the answer names. When the answer is missing (the
// check failed) the client stays pinned: correctness beats pool efficiency.

import { Scan, scanStatement } from './statement-scan';

/** Why a client is pinned. */
export type PinReason = 'set' | 'temp-table' | 'advisory-lock' | 'with-hold-cursor' | 'prepared-xact';

/** Pin reasons as bits, so a verdict carries them without allocating. */
export const Pin = {
  set: 1,
  tempTable: 2,
  advisoryLock: 4,
  withHoldCursor: 8,
  preparedXact: 16,
} as const;
export const ALL_PINS = 31;

/** Every reason, in bit order (SHOW PINS rows, SHOW CLIENTS' pins column). */
export const PIN_REASONS: readonly PinReason[] = ['set', 'temp-table', 'advisory-lock', 'with-hold-cursor', 'prepared-xact'];

/** Reasons whose state lives on one server: the client keeps that server while it holds any. */
export const SERVER_PINS = Pin.tempTable | Pin.advisoryLock | Pin.withHoldCursor | Pin.preparedXact;
/** Reasons that only decide routing (the primary); the server is released between transactions. */
export const ROUTE_PINS = Pin.set;

export function pinBit(reason: PinReason): number {
  return 1 << PIN_REASONS.indexOf(reason);
}

export function maskOf(reasons: readonly PinReason[] | undefined): number {
  let mask = 0;
  if (reasons !== undefined) for (const r of reasons) mask |= pinBit(r);
  return mask;
}

/** The reasons of `mask`, comma-separated ('' for none): SHOW CLIENTS' column, refusal texts. */
export function describePins(mask: number): string {
  let out = '';
  for (let bit = 0; bit < PIN_REASONS.length; bit++) if ((mask & (1 << bit)) !== 0) out = out === '' ? PIN_REASONS[bit] : `${out},${PIN_REASONS[bit]}`;
  return out;
}

/** Pins of one pool (or routed database): clients pinned now and pinnings so far, by reason; clients holding a server. */
export class PinCounts {
  readonly now = new Map<PinReason, number>();
  readonly total = new Map<PinReason, number>();
  /** Clients holding a server of this pool for their session state (max_pinned_clients_per_pool counts these). */
  serverClients = 0;

  /** The reasons in `added` were gained (+) and those in `removed` lost by one client. */
  change(added: number, removed: number): void {
    for (let bit = 0; bit < PIN_REASONS.length; bit++) {
      const b = 1 << bit;
      const reason = PIN_REASONS[bit];
      if ((added & b) !== 0) {
        this.now.set(reason, (this.now.get(reason) ?? 0) + 1);
        this.total.set(reason, (this.total.get(reason) ?? 0) + 1);
      } else if ((removed & b) !== 0) this.now.set(reason, (this.now.get(reason) ?? 0) - 1);
    }
  }
}

/**
 * Whether a statement text held by a pinned client may release server pins: a byte check on
 * the frame (no decoding). A false "maybe" costs one check query; a missed release only keeps
 * the client pinned until it leaves.
 */
export function mayRelease(buf: Buffer, from: number, stop: number): boolean {
  return scanStatement(buf, from, stop, Scan.MayRelease) !== 0;
}

/**
 * Whether a statement text may create server pins (temp, advisory, hold, prepare): the byte
 * check every forwarded Query and Parse pays in transaction mode before anything is decoded.
 * Texts that pass are classified (and cached by text) by lib/routing/pin-detector.
 */
export function mayPin(buf: Buffer, from: number, stop: number): boolean {
  return scanStatement(buf, from, stop, Scan.MayPin) !== 0;
}

/** The check's SQL: which server pins remain on this session, as a comma list of reasons in one row. */
export function checkSql(gids: ReadonlySet<string>): string {
  const parts = [
    "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()) THEN 'advisory-lock' END",
    // Temp tables, views, sequences (and their indexes and row types), and functions made in pg_temp.
    "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema()) OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = pg_catalog.pg_my_temp_schema()) THEN 'temp-table' END",
    "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_cursors WHERE is_holdable) THEN 'with-hold-cursor' END",
  ];
  if (gids.size > 0) {
    const list = [...gids].map((g) => `'${g.replace(/'/g, "''")}'`).join(', ');
    parts.push(`CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_xacts WHERE gid IN (${list})) THEN 'prepared-xact' END`);
  }
  return `SELECT pg_catalog.concat_ws(',', ${parts.join(', ')})`;
}

/** `PREPARE TRANSACTION 'gid'`'s gid, else null (the classifier said the text prepares a transaction). */
export function preparedGid(sql: string): string | null {
  const m = /prepare\s+transaction\s+'((?:[^']|'')*)'/i.exec(sql);
  return m === null ? null : m[1].replace(/''/g, "'");
}

const NO_GIDS: ReadonlySet<string> = new Set();

/** One client's pins. */
export class ClientPins {
  /** Reasons held now (bits of Pin). */
  private held = 0;
  /** Server pins whose state the server must be asked about at the transaction's end. */
  private doubt = false;
  /** The check query is running on the linked server. */
  checking = false;
  /**
   * Server pins created by statements sent after the running check: the server runs them after
   * it, so its answer cannot show them; they stay (and are in doubt for the next check).
   */
  private sinceCheck = 0;
  /** Global transaction ids this client prepared and has not seen finished (prepared-xact). */
  private gidSet: Set<string> | null = null;
  /** Named statements whose text creates server pins: a Bind of one pins as its Parse did. */
  private named: Map<string, number> | null = null;

  constructor(
    /** Where this client's pins are counted: its pool's, and its routed database's when routed. */
    private readonly counts: PinCounts[],
  ) {}

  /** The gids of its prepared transactions (made at the first: most clients never prepare one). */
  get gids(): ReadonlySet<string> {
    return this.gidSet ?? NO_GIDS;
  }

  /** The client left: its prepared transactions are no longer followed. */
  forgetGids(): void {
    this.gidSet = null;
  }

  /** Reasons held now, as bits. */
  get mask(): number {
    return this.held;
  }

  /** Whether the client must keep its server (server pins held, or being checked). */
  get holdsServer(): boolean {
    return (this.held & SERVER_PINS) !== 0 || this.checking;
  }

  /** Reasons held now (the router's RouteContext). */
  reasons(): PinReason[] {
    const out: PinReason[] = [];
    for (let bit = 0; bit < PIN_REASONS.length; bit++) if ((this.held & (1 << bit)) !== 0) out.push(PIN_REASONS[bit]);
    return out;
  }

  /** Route pins (set) from a forwarded statement's classification, applied as the classifier says. */
  route(pins: number, unpins: number): void {
    this.set((this.held & ~(unpins & ROUTE_PINS)) | (pins & ROUTE_PINS));
  }

  /** A forwarded statement creates server pins `mask` (`sql` for a prepared transaction's gid): held until the server says otherwise. */
  created(mask: number, sql: string | null): void {
    mask &= SERVER_PINS;
    if (mask === 0) return;
    if ((mask & Pin.preparedXact) !== 0 && sql !== null) {
      const gid = preparedGid(sql);
      if (gid !== null) (this.gidSet ??= new Set()).add(gid);
    }
    this.doubt = true;
    if (this.checking) this.sinceCheck |= mask;
    this.set(this.held | mask);
  }

  /** A forwarded statement may release server pins: ask the server at the transaction's end. */
  mayHaveReleased(): void {
    if ((this.held & SERVER_PINS) !== 0) this.doubt = true;
  }

  /** A Parse of `name` whose text creates server pins `mask` (0: forget the name). */
  parsed(name: string, mask: number): void {
    mask &= SERVER_PINS;
    if (mask !== 0) (this.named ??= new Map()).set(name, mask);
    else this.named?.delete(name);
  }

  /** Server pins a Bind of named statement `name` creates (0 for most), when any named statement pins. */
  get tracksNamed(): boolean {
    return this.named !== null && this.named.size > 0;
  }

  namedPins(name: string): number {
    return this.named?.get(name) ?? 0;
  }

  /**
   * The transaction ended (ReadyForQuery 'I'): the check query to run on the linked server
   * before it may be released, or null when nothing is in doubt.
   */
  checkAtIdle(): string | null {
    if (!this.doubt || this.checking) return null;
    this.doubt = false;
    this.checking = true;
    this.sinceCheck = 0;
    return checkSql(this.gids);
  }

  /** The check's answer: the reasons still on the server, or null when it failed (then nothing is released). */
  checked(answer: string | null): void {
    this.checking = false;
    if (answer === null) return;
    let found = 0;
    for (const r of answer.split(',')) if (r !== '') found |= pinBit(r as PinReason);
    found |= this.sinceCheck;
    this.sinceCheck = 0;
    if ((found & Pin.preparedXact) === 0) this.gidSet = null;
    this.set((this.held & ROUTE_PINS) | (found & SERVER_PINS));
  }

  /** The client left, or its server was lost (the state went with it): nothing is held any more. */
  clear(): void {
    this.checking = false;
    this.doubt = false;
    this.set(0);
  }

  private set(next: number): void {
    const prev = this.held;
    if (next === prev) return;
    this.held = next;
    const wasServer = (prev & SERVER_PINS) !== 0;
    const isServer = (next & SERVER_PINS) !== 0;
    for (const c of this.counts) {
      c.change(next & ~prev, prev & ~next);
      if (wasServer !== isServer) c.serverClients += isServer ? 1 : -1;
    }
  }

  /** Also count in `counts` from now on (the router's database, made after the pool's). */
  countIn(counts: PinCounts): void {
    this.counts.push(counts);
    counts.change(this.held, 0);
    if ((this.held & SERVER_PINS) !== 0) counts.serverClients++;
  }
}
