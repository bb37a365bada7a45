// Owns what a replica's health is: the states a replica can be in, the live status the lag
// tracker keeps per replica (read by the router and SHOW REPLICAS), and the pure rule that
// turns one poll's numbers into the next state, with the hysteresis of max_replica_lag.

import type { HostEntry, LagLimit } from '../config';
import type { Lsn } from './lsn';

/**
 * - connecting: no poll has answered yet (startup, or a retry after down): takes no reads.
 * - up: in recovery and within max_replica_lag: takes reads.
 * - lagging: beyond max_replica_lag; takes no reads until back under half of it.
 * - down: connection refused, login failed, connection lost or a poll unanswered; retried with
 *   a growing delay (circuit open), back to up by itself after one good poll.
 * - wrong-role: answers, but pg_is_in_recovery() is false (a promoted or misconfigured node).
 */
export type ReplicaState = 'connecting' | 'up' | 'lagging' | 'down' | 'wrong-role';

/** What routing needs of one replica. The tracker's live ReplicaStatus objects are these. */
export interface ReplicaView {
  readonly state: ReplicaState;
  /** pg_last_wal_replay_lsn() at the last good poll; null before one. */
  readonly replayLsn: Lsn | null;
}

/** One replica's live status, mutated in place by the lag tracker (no allocation per poll). */
export interface ReplicaStatus extends ReplicaView {
  readonly index: number;
  readonly address: HostEntry;
  /** Why it is in its state ('caught up', 'replay 20MB behind', 'connection refused', ...). */
  readonly reason: string;
  /** Bytes of WAL the primary has (last primary poll) that this replica has not replayed; null while unknown. */
  readonly lagBytes: number | null;
  /** Seconds since the oldest WAL this replica has not replayed was seen on the primary; null while unknown. */
  readonly lagSeconds: number | null;
  /** now() - pg_last_xact_replay_timestamp() on the replica (grows while the primary is idle: display only). */
  readonly replayTimestampAge: number | null;
  /** Consecutive failed connects/polls (the circuit breaker's count); 0 once a poll answers. */
  readonly failures: number;
  /** Time of the last state change (tracker clock: monotonic ms, not wall time). */
  readonly since: number;
  /** Good polls so far. */
  readonly polls: number;
}

/** The numbers of one poll of a replica, as the tracker computed them. */
export interface LagSample {
  readonly inRecovery: boolean;
  readonly replayLsn: Lsn | null;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
}

export interface Judgement {
  readonly state: 'up' | 'lagging' | 'wrong-role';
  readonly reason: string;
}

/**
 * The state after a good poll. Beyond either limit of `limit` → lagging; a lagging replica comes
 * back only when under half of every limit (hysteresis: a replica hovering at the limit would
 * otherwise flap in and out of rotation at every poll). An unknown number (null) never counts as
 * beyond: with the primary unreachable, lag bytes are unknown and the time limit still applies.
 */
export function judge(prev: ReplicaState, sample: LagSample, limit: LagLimit): Judgement {
  if (!sample.inRecovery) return { state: 'wrong-role', reason: 'not in recovery (pg_is_in_recovery() is false)' };
  if (sample.replayLsn === null) return { state: 'lagging', reason: 'no replay position yet' };
  const { lagBytes, lagSeconds } = sample;
  const overBytes = limit.bytes !== null && lagBytes !== null && lagBytes > limit.bytes;
  const overTime = limit.seconds !== null && lagSeconds !== null && lagSeconds > limit.seconds;
  if (overBytes || overTime) return { state: 'lagging', reason: lagReason(sample, overBytes, limit) };
  if (prev === 'lagging') {
    const underBytes = limit.bytes === null || lagBytes === null || lagBytes <= limit.bytes / 2;
    const underTime = limit.seconds === null || lagSeconds === null || lagSeconds <= limit.seconds / 2;
    if (!(underBytes && underTime)) return { state: 'lagging', reason: 'not yet under half of max_replica_lag' };
  }
  return { state: 'up', reason: lagBytes === 0 ? 'caught up' : 'within max_replica_lag' };
}

function lagReason(sample: LagSample, overBytes: boolean, limit: LagLimit): string {
  if (overBytes) return `replay ${sample.lagBytes} bytes behind (max_replica_lag ${limit.bytes} bytes)`;
  return `replay ${sample.lagSeconds?.toFixed(3)} s behind (max_replica_lag ${limit.seconds} s)`;
}

/** Bit mask of the replicas in state up: the ones that may take a read right now. */
export function upMask(replicas: readonly ReplicaView[]): number {
  let mask = 0;
  for (let i = 0; i < replicas.length; i++) if (replicas[i].state === 'up') mask |= 1 << i;
  return mask;
}

/** Indices of the set bits of a replica mask, lowest first (for logs and specs, not the hot path). */
export function maskIndices(mask: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 31; i++) if ((mask & (1 << i)) !== 0) out.push(i);
  return out;
}
