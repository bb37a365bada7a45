// Specs for load_balance: weighted round robin, least connections and weighted random, each
// picking only among the replicas route() allowed (the mask).

import { makeBalancer, preferLocal } from '../../lib/routing/balance';

const ALL3 = 0b111;

function picks(n: number, pick: () => number): number[] {
  return Array.from({ length: n }, pick);
}

function counts(list: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const i of list) out[i] = (out[i] ?? 0) + 1;
  return out;
}

describe('round_robin', () => {
  /** Equal weights must rotate, not stick to the first replica. */
  it('rotates through equal-weight replicas in order', () => {
    const b = makeBalancer('round_robin', [1, 1, 1]);
    expect(picks(6, () => b.pick(ALL3))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  /** Weights are shares of reads, spread out (smooth), not served in bursts. */
  it('gives weight 5:1:1 as a a b a c a a (smooth, exact shares)', () => {
    const b = makeBalancer('round_robin', [5, 1, 1]);
    expect(picks(7, () => b.pick(ALL3))).toEqual([0, 0, 1, 0, 2, 0, 0]);
    expect(counts(picks(700, () => b.pick(ALL3)))).toEqual({ 0: 500, 1: 100, 2: 100 });
  });

  /** A replica outside the mask (down, stale) must never be picked. */
  it('picks only from the mask', () => {
    const b = makeBalancer('round_robin', [1, 1, 1]);
    expect(new Set(picks(10, () => b.pick(0b101)))).toEqual(new Set([0, 2]));
    expect(picks(3, () => b.pick(0b010))).toEqual([1, 1, 1]);
  });

  it('answers -1 for an empty mask', () => {
    expect(makeBalancer('round_robin', [1, 2]).pick(0)).toBe(-1);
  });
});

describe('least_connections', () => {
  /** The replica with fewest connections takes the read. */
  it('picks the replica with the fewest connections', () => {
    const load = [5, 2, 7];
    const b = makeBalancer('least_connections', [1, 1, 1], { connections: (i) => load[i] });
    expect(b.pick(ALL3)).toBe(1);
    expect(b.pick(0b101)).toBe(0);
  });

  /** Load is per unit of weight: 6 connections on a weight-3 replica is lighter than 3 on weight 1. */
  it('divides connections by weight', () => {
    const load = [3, 6];
    const b = makeBalancer('least_connections', [1, 3], { connections: (i) => load[i] });
    expect(b.pick(0b11)).toBe(1);
  });

  /** With idle replicas (all 0) ties must rotate, or the first replica takes every first read. */
  it('rotates among ties', () => {
    const b = makeBalancer('least_connections', [1, 1, 1], { connections: () => 0 });
    expect(picks(6, () => b.pick(ALL3))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('needs a connections callback', () => {
    expect(() => makeBalancer('least_connections', [1])).toThrow(/connections/);
  });
});

describe('random', () => {
  /** The RNG's value maps onto cumulative weights of the eligible replicas only. */
  it('maps the random number onto the eligible weights', () => {
    let r = 0;
    const b = makeBalancer('random', [1, 2, 1], { random: () => r });
    const at = (x: number, mask = ALL3) => {
      r = x;
      return b.pick(mask);
    };
    // weights 1,2,1 of total 4: [0,0.25) -> 0, [0.25,0.75) -> 1, [0.75,1) -> 2
    expect([at(0), at(0.24), at(0.25), at(0.74), at(0.75), at(0.999)]).toEqual([0, 0, 1, 1, 2, 2]);
    // without replica 1: weights 1,1 of total 2
    expect([at(0.49, 0b101), at(0.5, 0b101)]).toEqual([0, 2]);
  });

  /** With a real RNG the shares follow the weights (loosely: 4,000 draws). */
  it('follows the weights with Math.random', () => {
    const b = makeBalancer('random', [3, 1]);
    const c = counts(picks(4000, () => b.pick(0b11)));
    expect(c[0] / 4000).toBeGreaterThan(0.68);
    expect(c[0] / 4000).toBeLessThan(0.82);
  });

  it('answers -1 for an empty mask', () => {
    expect(makeBalancer('random', [1]).pick(0)).toBe(-1);
  });
});

describe('least_outstanding', () => {
  /** Requests running or queued, per unit of weight: a replica busy with long reads gets fewer new ones. */
  it('picks the replica with the fewest requests in flight per unit of weight', () => {
    const inFlight = [4, 1, 3];
    const b = makeBalancer('least_outstanding', [1, 1, 1], { outstanding: (i) => inFlight[i] });
    expect(b.pick(ALL3)).toBe(1);
    inFlight[1] = 9;
    expect(b.pick(ALL3)).toBe(2);
    // Weight 4 on replica 0: 4 requests per 4 units beats 3 per 1.
    const w = makeBalancer('least_outstanding', [4, 1, 1], { outstanding: (i) => [4, 3, 3][i] });
    expect(w.pick(ALL3)).toBe(0);
    expect(() => makeBalancer('least_outstanding', [1])).toThrow(/outstanding/);
  });
});

describe('latency', () => {
  /** The nearest replica takes the reads; one not measured yet is tried so that it gets measured. */
  it('picks the lowest moving-average round trip, sharing among replicas within 10 %', () => {
    const rtt: (number | null)[] = [5, 1, 1.05];
    const b = makeBalancer('latency', [1, 1, 1], { latency: (i) => rtt[i] });
    expect(new Set(picks(6, () => b.pick(ALL3)))).toEqual(new Set([1, 2]));
    rtt[2] = 3;
    expect(new Set(picks(6, () => b.pick(ALL3)))).toEqual(new Set([1]));
    rtt[0] = null;
    expect(picks(3, () => b.pick(ALL3))).toContain(0);
    expect(b.pick(0b100)).toBe(2);
  });
});

describe('zone affinity (preferLocal)', () => {
  /** Same-zone replicas first; the others only when none of those is eligible. */
  it('keeps reads in pgmux\'s zone while a replica there is eligible', () => {
    const b = preferLocal(makeBalancer('round_robin', [1, 1, 1]), 0b110);
    expect(new Set(picks(10, () => b.pick(ALL3)))).toEqual(new Set([1, 2]));
    // Both local replicas out (down or behind a write): the remote one takes the read.
    expect(picks(3, () => b.pick(0b001))).toEqual([0, 0, 0]);
    expect(b.pick(0b011)).toBe(1);
    // No zone set: the balancer as it is.
    const plain = makeBalancer('round_robin', [1, 1]);
    expect(preferLocal(plain, 0)).toBe(plain);
  });
});
