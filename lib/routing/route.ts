// Owns the routing decision (STYLE.md #11): route(ctx) is a pure function of everything the
// decision needs — the statement's classification, the client's transaction state, hints, pins,
// each replica's health and replay position, the scope's last write position — and answers
// primary, replica (which ones may take it), wait (for a replica to replay a write), or refuse,
// always with a reason code for SHOW ROUTE and debug logs. Which replica of the allowed ones
// takes the read is the Balancer's job (balance.ts); when to re-ask after a wait is the lag
// tracker's (it wakes waiters at every poll).

import type { Settings } from '../config';
import type { Classification, PinReason, SessionRoute } from './classify-types';
import type { Lsn } from './lsn';
import { upMask, type ReplicaView } from './replicas';

/**
 * Where the client's transaction stands before this statement. route() is asked when the client
 * holds no server (the start of a transaction in transaction pooling, every statement in
 * statement pooling); a transaction's later statements follow its server. 'transaction' is a
 * read-write transaction already begun (e.g. a BEGIN held back until its first statement);
 * 'read-only-transaction' one begun with BEGIN READ ONLY / START TRANSACTION READ ONLY.
 */
export type TxState = 'idle' | 'transaction' | 'read-only-transaction';

export type ReadYourWrites = Settings['read_your_writes'];

/**
 * The last write of the client's read_your_writes scope: its commit position on the primary,
 * 'pending' when a write committed but its position is not known yet, null when there is none
 * (or it is older than every replica's replay position and was forgotten).
 */
export type WriteLsn = Lsn | 'pending' | null;

export interface RouteContext {
  /** The classifier's verdict on the statement text (target, reason, pins, hint). */
  readonly statement: Classification;
  readonly tx: TxState;
  /** The session's `SET pgmux.route`: primary sends everything there, replica accepts stale reads. */
  readonly sessionRoute: SessionRoute;
  /** Session state pinning the client to the primary (SET, LISTEN, temp tables, ...); empty if none. */
  readonly pins: readonly PinReason[];
  /** The database's replicas, in config order (index = bit in the decision's mask). */
  readonly replicas: readonly ReplicaView[];
  readonly readYourWrites: ReadYourWrites;
  readonly writeLsn: WriteLsn;
  /**
   * True once this read has waited read_your_writes_timeout (or the timeout is 0): no more
   * waiting, take the fallback (the primary; on a read-only alias, a stale replica or a refusal).
   */
  readonly waitExpired: boolean;
  /** The database line says `route=replica`: a read-only alias that never uses the primary. */
  readonly replicaOnly: boolean;
}

export type RouteDecision =
  | { readonly kind: 'primary'; readonly reason: string }
  /** `replicas`: bit mask of the replicas that may take it; the Balancer picks one. */
  | { readonly kind: 'replica'; readonly replicas: number; readonly reason: string }
  /**
   * Ask again after the lag tracker's next poll (it wakes waiters), with waitExpired once
   * read_your_writes_timeout has passed. `until`: the write position a replica must replay
   * ('pending': not known yet), or null when waiting for any replica to be up at all.
   */
  | { readonly kind: 'wait'; readonly until: Lsn | 'pending' | null; readonly reason: string }
  /** Only on a read-only alias with no healthy replica after the wait: the client gets an error. */
  | { readonly kind: 'refuse'; readonly reason: string };

/** Reason codes route() itself gives (the classifier's own, such as 'replica: plain select', pass through). */
export const Reason = {
  noReplicas: 'primary: no replicas',
  inTransaction: 'primary: in transaction',
  sessionRoute: 'primary: SET pgmux.route',
  noHealthyReplica: 'primary: no healthy replica',
  tooStale: 'primary: replica too stale',
  waitForWrite: 'wait: replica behind your write',
  waitForReplica: 'wait: no healthy replica',
  aliasRead: 'replica: read-only database',
  aliasStale: 'replica: read-only database, replica behind your write',
  refuseNoReplica: 'refuse: read-only database has no healthy replica',
} as const;

/** Pin reasons as they read in a reason code. */
const PIN_TEXT: Readonly<Record<PinReason, string>> = {
  set: 'primary: pinned by SET',
  'temp-table': 'primary: pinned by temp table',
  'advisory-lock': 'primary: pinned by advisory lock',
  'with-hold-cursor': 'primary: pinned by WITH HOLD cursor',
  'prepared-xact': 'primary: pinned by prepared transaction',
};

/** route()'s own primary decisions, built once. */
const PRIMARY: Readonly<Record<string, RouteDecision>> = Object.fromEntries(
  [Reason.noReplicas, Reason.inTransaction, Reason.sessionRoute, Reason.noHealthyReplica, Reason.tooStale, ...Object.values(PIN_TEXT)].map(
    (reason) => [reason, Object.freeze({ kind: 'primary', reason })],
  ),
);
const REFUSE_NO_REPLICA: RouteDecision = Object.freeze({ kind: 'refuse', reason: Reason.refuseNoReplica });
const WAIT_FOR_REPLICA: RouteDecision = Object.freeze({ kind: 'wait', until: null, reason: Reason.waitForReplica });

/** Where this statement goes, and why. Pure: same context, same answer. */
export function route(ctx: RouteContext): RouteDecision {
  if (ctx.replicaOnly) return routeAlias(ctx);
  if (ctx.replicas.length === 0) return primary(Reason.noReplicas);
  if (ctx.tx === 'transaction') return primary(Reason.inTransaction);
  if (ctx.sessionRoute === 'primary') return primary(Reason.sessionRoute);
  if (ctx.pins.length > 0) return primary(PIN_TEXT[ctx.pins[0]]);
  const st = ctx.statement;
  if (st.target === 'primary') return { kind: 'primary', reason: st.reason };
  // A statement that creates session state must run where that state will be used: the primary,
  // whatever its target says.
  if (st.pins !== undefined && st.pins.length > 0) return primary(PIN_TEXT[st.pins[0]]);
  const up = upMask(ctx.replicas);
  if (up === 0) return primary(Reason.noHealthyReplica);
  if (acceptsStale(ctx)) return { kind: 'replica', replicas: up, reason: st.reason };
  const fresh = freshMask(ctx.replicas, up, ctx.writeLsn);
  if (fresh !== 0) return { kind: 'replica', replicas: fresh, reason: st.reason };
  if (!ctx.waitExpired) return { kind: 'wait', until: ctx.writeLsn, reason: Reason.waitForWrite };
  return primary(Reason.tooStale);
}

/**
 * A `route=replica` database: everything goes to a replica, writes included (the replica refuses
 * them itself with PostgreSQL's "cannot execute ... in a read-only transaction"), and
 * read-your-writes is kept among replicas as far as the wait allows: after it, a stale replica
 * is better than an error. With no healthy replica at all, the read waits, then is refused.
 */
function routeAlias(ctx: RouteContext): RouteDecision {
  const up = upMask(ctx.replicas);
  if (up === 0) return ctx.waitExpired ? REFUSE_NO_REPLICA : WAIT_FOR_REPLICA;
  if (acceptsStale(ctx)) return { kind: 'replica', replicas: up, reason: Reason.aliasRead };
  const fresh = freshMask(ctx.replicas, up, ctx.writeLsn);
  if (fresh !== 0) return { kind: 'replica', replicas: fresh, reason: Reason.aliasRead };
  if (!ctx.waitExpired) return { kind: 'wait', until: ctx.writeLsn, reason: Reason.waitForWrite };
  return { kind: 'replica', replicas: up, reason: Reason.aliasStale };
}

/**
 * No write to wait for: read_your_writes is off, the scope has not written, or the client asked
 * for a replica outright (a `/* pgmux:replica *\/` comment, or SET pgmux.route = replica), which
 * pgmux takes as accepting a replica's lag (still never a lagging or down one).
 */
function acceptsStale(ctx: RouteContext): boolean {
  return ctx.readYourWrites === 'off' || ctx.writeLsn === null || ctx.sessionRoute === 'replica' || ctx.statement.hint === 'replica';
}

function primary(reason: string): RouteDecision {
  return PRIMARY[reason] ?? { kind: 'primary', reason };
}

/** The replicas of `candidates` whose replay position has reached `lsn` (none for 'pending'). */
function freshMask(replicas: readonly ReplicaView[], candidates: number, lsn: WriteLsn): number {
  if (lsn === 'pending') return 0;
  let mask = 0;
  for (let i = 0; i < replicas.length; i++) {
    if ((candidates & (1 << i)) === 0) continue;
    const replay = replicas[i].replayLsn;
    if (lsn === null || (replay !== null && replay >= lsn)) mask |= 1 << i;
  }
  return mask;
}
