// Owns what the status page shows, as one JSON document the page fetches every few seconds:
// pools (SHOW POOLS' rows), each database's primary and hosts with role, health, breaker and
// lag, the last minutes of throughput and latency, the fingerprints with the most time, session
// pins and routing reasons. Read from the same objects SHOW and /metrics read.

import type { PoolRow } from '../admin/views';
import type { Topology } from '../failover/topology';
import type { FingerprintTable } from '../metrics/fingerprints';
import { KIND_NAMES } from '../metrics/histogram';
import type { HistoryPoint } from '../metrics/history';
import type { ReplicaSet } from '../routing/router';
import { PIN_REASONS } from '../session/pins';

export interface StatusSource {
  readonly version: string;
  /** Wall-clock ms when pgmux started. */
  readonly startedAt: number;
  pools(): PoolRow[];
  topologies(): ReadonlyMap<string, Topology>;
  replicaSets(): ReadonlyMap<string, ReplicaSet>;
  /** The fingerprint table while metrics are on. */
  readonly fingerprints: FingerprintTable;
  history(): readonly HistoryPoint[];
  notReady(): string[];
}

const REASONS_SHOWN = 12;

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function statusData(src: StatusSource): unknown {
  const now = Date.now();
  return {
    version: src.version,
    now,
    uptimeSeconds: Math.round((now - src.startedAt) / 1000),
    notReady: src.notReady(),
    pools: src.pools().map((p) => ({ ...p, maxwaitSeconds: round(p.maxwaitUs / 1e6), maxwaitUs: undefined })),
    databases: [...src.topologies()].map(([name, t]) => database(name, t)),
    history: src.history(),
    fingerprints: fingerprints(src.fingerprints),
    pins: [...src.replicaSets()].flatMap(([database, set]) =>
      PIN_REASONS.map((reason) => ({ database, reason, now: set.pins.now.get(reason) ?? 0, total: set.pins.total.get(reason) ?? 0 })),
    ),
    routing: [...src.replicaSets()].map(([database, set]) => ({
      database,
      readYourWrites: { ...set.rywWaits },
      reasons: [...set.reasons].sort((a, b) => b[1] - a[1]).slice(0, REASONS_SHOWN).map(([reason, count]) => ({ reason, count })),
    })),
  };
}

function database(name: string, t: Topology): unknown {
  return {
    name,
    state: t.state,
    primary: t.primary?.label ?? null,
    timeline: t.timeline,
    failovers: t.failovers,
    losses: t.losses,
    timeouts: t.timeouts,
    searchingSeconds: round(t.searchingFor() / 1000, 1),
    hosts: t.backends.map((b, i) => {
      const r = t.tracker.replicas[i];
      return {
        host: b.label,
        primary: b === t.primary,
        role: b.role,
        breaker: b.breaker.state,
        breakerReason: b.breaker.reason,
        failures: b.failures,
        rttMs: b.rttMs === null ? null : round(b.rttMs),
        lastError: b.lastError,
        lastProbeAt: b.lastProbeAt,
        readState: b === t.primary ? null : (r?.state ?? null),
        readReason: b === t.primary ? null : (r?.reason ?? null),
        lagBytes: b === t.primary ? null : (r?.lagBytes ?? null),
        lagSeconds: b === t.primary || r?.lagSeconds == null ? null : round(r.lagSeconds),
      };
    }),
  };
}

function fingerprints(table: FingerprintTable): unknown {
  const rows = table.top().map((e) => ({
    id: e.id,
    text: e.text,
    kind: KIND_NAMES[e.kind],
    calls: e.calls,
    totalMs: round(e.totalUs / 1000, 1),
    meanMs: e.calls === 0 ? 0 : round(e.totalUs / e.calls / 1000),
    maxMs: round(e.maxUs / 1000),
    p99Ms: e.histogram === null ? null : round(e.histogram.quantile(0.99) / 1000),
  }));
  const o = table.other;
  return {
    limit: table.limit,
    top: rows,
    other: { calls: o.count, totalMs: round(o.sum / 1000, 1), meanMs: o.count === 0 ? 0 : round(o.sum / o.count / 1000), maxMs: round(o.max / 1000) },
  };
}
