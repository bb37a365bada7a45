// Owns load_balance: which one of a database's eligible replicas takes a read. Eligibility (up,
// fresh enough) is route()'s answer as a bit mask; a Balancer only spreads reads inside it,
// by weight (`replicas=host:port@weight`).

import type { Settings } from '../config';

export type BalanceMode = Settings['load_balance'];

/** Picks one index whose bit is set in `mask`; -1 when the mask is empty. */
export interface Balancer {
  pick(mask: number): number;
}

export interface BalanceOptions {
  /** least_connections: server connections currently open to replica `index` (its pool's count). */
  connections?: (index: number) => number;
  /** least_outstanding: requests running on or queued for replica `index`. */
  outstanding?: (index: number) => number;
  /** latency: the moving average of replica `index`'s probe round trips, ms (null while unknown). */
  latency?: (index: number) => number | null;
  /** random: a number in [0, 1); Math.random unless a spec injects its own. */
  random?: () => number;
}

/** A balancer for replicas with these weights (all >= 1), in config order. */
export function makeBalancer(mode: BalanceMode, weights: readonly number[], opts: BalanceOptions = {}): Balancer {
  switch (mode) {
    case 'round_robin':
      return new WeightedRoundRobin(weights);
    case 'least_connections': {
      const count = opts.connections;
      if (count === undefined) throw new Error('least_connections needs a connections(index) callback');
      return new LeastConnections(weights, count);
    }
    case 'random':
      return new WeightedRandom(weights, opts.random ?? Math.random);
    case 'least_outstanding': {
      const count = opts.outstanding;
      if (count === undefined) throw new Error('least_outstanding needs an outstanding(index) callback');
      // The same rule as least_connections, on requests instead of connections.
      return new LeastConnections(weights, count);
    }
    case 'latency': {
      const latency = opts.latency;
      if (latency === undefined) throw new Error('latency needs a latency(index) callback');
      return new LowestLatency(weights, latency);
    }
  }
}

/**
 * Zone affinity: among the eligible replicas, those in pgmux's own zone (`local`, a mask) take
 * the reads; the others only when none of those is eligible (down, lagging, behind a write).
 */
export function preferLocal(inner: Balancer, local: number): Balancer {
  if (local === 0) return inner;
  return { pick: (mask) => inner.pick((mask & local) !== 0 ? mask & local : mask) };
}

/**
 * The eligible replica with the lowest moving-average round trip; one not yet measured counts as
 * the best so it gets measured. Within 10 % of the best, round robin among them, so two equally
 * near replicas share the reads instead of the marginally faster one taking all.
 */
class LowestLatency implements Balancer {
  private readonly rr: WeightedRoundRobin;

  constructor(
    weights: readonly number[],
    private readonly latency: (index: number) => number | null,
  ) {
    this.rr = new WeightedRoundRobin(weights);
  }

  pick(mask: number): number {
    let best = Infinity;
    for (let m = mask; m !== 0; m &= m - 1) best = Math.min(best, this.latency(lowestBit(m)) ?? 0);
    let near = 0;
    for (let m = mask; m !== 0; m &= m - 1) {
      const i = lowestBit(m);
      if ((this.latency(i) ?? 0) <= best * 1.1 + 0.05) near |= 1 << i;
    }
    return this.rr.pick(near);
  }
}

/** Lowest set bit's index (mask must be non-zero, bits 0..30). */
function lowestBit(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

/**
 * Smooth weighted round robin (nginx): every pick adds each eligible replica's weight to its
 * running score, takes the highest score and subtracts the eligible total from it. Weights 5:1:1
 * give a a b a c a a, not a a a a a b c, and equal weights give a strict rotation. When a replica
 * leaves or rejoins the mask, the others' scores carry on, so no replica gets a burst.
 */
class WeightedRoundRobin implements Balancer {
  private readonly score: number[];

  constructor(private readonly weights: readonly number[]) {
    this.score = weights.map(() => 0);
  }

  pick(mask: number): number {
    let best = -1;
    let total = 0;
    for (let m = mask; m !== 0; m &= m - 1) {
      const i = lowestBit(m);
      const w = this.weights[i] ?? 1;
      this.score[i] += w;
      total += w;
      if (best === -1 || this.score[i] > this.score[best]) best = i;
    }
    if (best !== -1) this.score[best] -= total;
    return best;
  }
}

/**
 * Fewest connections per unit of weight (connections / weight, compared by cross-multiplying so
 * no float rounding decides). Ties go to the first eligible replica after the last one picked,
 * so idle replicas (all at 0) share the reads instead of the first one taking them all.
 */
class LeastConnections implements Balancer {
  private last = -1;

  constructor(
    private readonly weights: readonly number[],
    private readonly connections: (index: number) => number,
  ) {}

  pick(mask: number): number {
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    const n = this.weights.length;
    // Visit eligible replicas starting after the last pick: the first of equals wins.
    for (let k = 1; k <= n; k++) {
      const i = (this.last + k) % n;
      if ((mask & (1 << i)) === 0) continue;
      const load = this.connections(i);
      const w = this.weights[i] ?? 1;
      if (best === -1 || load * bestWeight < bestLoad * w) {
        best = i;
        bestLoad = load;
        bestWeight = w;
      }
    }
    if (best !== -1) this.last = best;
    return best;
  }
}

/** Each eligible replica with probability weight / (sum of eligible weights). */
class WeightedRandom implements Balancer {
  constructor(
    private readonly weights: readonly number[],
    private readonly random: () => number,
  ) {}

  pick(mask: number): number {
    let total = 0;
    for (let m = mask; m !== 0; m &= m - 1) total += this.weights[lowestBit(m)] ?? 1;
    if (total === 0) return -1;
    let r = this.random() * total;
    let last = -1;
    for (let m = mask; m !== 0; m &= m - 1) {
      const i = lowestBit(m);
      last = i;
      r -= this.weights[i] ?? 1;
      if (r < 0) return i;
    }
    // Only reachable when random() returned 1 or rounding left r at 0: the last one.
    return last;
  }
}
