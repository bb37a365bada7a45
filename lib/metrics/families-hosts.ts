// Owns the metrics of the hosts behind pgmux and of routing between them: per database its
// primary (state, host, timeline, losses, failovers, search times), per backend its health
// (role, circuit breaker, probes, round trip), per replica its lag in bytes and seconds, and per
// routed database its routing decisions by reason, reads per replica, read_your_writes waits and
// session pins. Read at scrape time from lib/failover and lib/routing, which they do not change.
//
// Each number is one row of a table: a counter the failover or routing work adds is one line.

import type { Backend } from '../failover/backend';
import type { Topology } from '../failover/topology';
import type { ReplicaSet } from '../routing/router';
import { family, type Family, type FamilyType, type SampleSink } from './exposition';
import { PIN_REASONS } from '../session/pins';

export interface HostsSource {
  /** Every database's topology, by the database's name. */
  topologies(): ReadonlyMap<string, Topology>;
  /** Routed databases' replica sets (made at the first routed login), by database name. */
  replicaSets(): ReadonlyMap<string, ReplicaSet>;
}

type Row<T> = readonly [name: string, type: FamilyType, help: string, get: (x: T) => number | null];

/** Per database (label `database`). */
const TOPOLOGY: readonly Row<Topology>[] = [
  ['pgmux_database_ready', 'gauge', 'Whether /readyz counts the database ready (1), or not (0: no primary past failover_timeout, or its single host has never answered)', (t) => (t.notReady() === null ? 1 : 0)],
  ['pgmux_database_timeline', 'gauge', 'Timeline of the accepted primary (0 before one was seen)', (t) => t.timeline],
  ['pgmux_database_primary_losses_total', 'counter', 'Times the primary was lost (probe failed, or it went into recovery)', (t) => t.losses],
  ['pgmux_database_failovers_total', 'counter', 'Times another host became the primary', (t) => t.failovers],
  ['pgmux_database_failover_timeouts_total', 'counter', 'Searches for a primary that ran past failover_timeout', (t) => t.timeouts],
  ['pgmux_database_last_primary_search_seconds', 'gauge', 'How long the last search for a primary took until one was accepted', (t) => t.lastSearchMs / 1000],
  ['pgmux_database_primary_search_seconds', 'gauge', 'How long the current search for a primary has lasted (0 while one is up)', (t) => t.searchingFor() / 1000],
];

/** Per host (label `host`: host:port as configured). */
const BACKEND: readonly Row<Backend>[] = [
  ['pgmux_backend_breaker_opened_total', 'counter', 'Times the circuit breaker opened (repeated network failures)', (b) => b.breaker.opened],
  ['pgmux_backend_probes_total', 'counter', 'Health probes answered', (b) => b.probes],
  ['pgmux_backend_probe_failures', 'gauge', 'Failed health probes in a row (0 once one answers)', (b) => b.failures],
  ['pgmux_backend_probe_rtt_seconds', 'gauge', 'Moving average of health probe round trips', (b) => (b.rttMs === null ? null : b.rttMs / 1000)],
  ['pgmux_backend_timeline', 'gauge', 'Timeline the host writes on (primary) or receives (standby)', (b) => b.timeline],
  ['pgmux_backend_last_probe_timestamp_seconds', 'gauge', 'Wall-clock time of the last answered probe', (b) => (b.lastProbeAt === 0 ? null : b.lastProbeAt / 1000)],
  ['pgmux_backend_dial_attempts_total', 'counter', 'Connections started to the host (pools, probes, cancels)', (b) => b.dialer.attempts],
  ['pgmux_backend_server_logins_total', 'counter', 'Pooled server connections that logged in', (b) => b.logins],
];

/** Per routed database. */
const ROUTED: readonly Row<ReplicaSet>[] = [
  ['pgmux_read_your_writes_waits_total', 'counter', 'Reads that waited for a replica to replay their scope\'s last write', (s) => s.rywWaits.waited],
  ['pgmux_read_your_writes_timeouts_total', 'counter', 'Such waits that ran past read_your_writes_timeout', (s) => s.rywWaits.timedOut],
  ['pgmux_read_your_writes_primary_fallbacks_total', 'counter', 'Reads sent to the primary because no replica had replayed their write', (s) => s.rywWaits.primaryFallbacks],
];

const PRIMARY_STATES = ['up', 'searching', 'unavailable'] as const;
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
const ROLES = ['unknown', 'primary', 'standby'] as const;
const REPLICA_STATES = ['connecting', 'up', 'lagging', 'down', 'wrong-role'] as const;
const FAILURE_KINDS = ['network', 'auth', 'recovery', 'full'] as const;

function table<T>(rows: readonly Row<T>[], items: () => Iterable<[Record<string, string>, T]>): Family[] {
  return rows.map(([name, type, help, get]) =>
    family(name, type, help, (s) => {
      for (const [labels, x] of items()) {
        const v = get(x);
        if (v !== null) s.push({ labels, value: v });
      }
    }),
  );
}

/** 1 for the state it is in, 0 for the others (a Prometheus state set). */
function stateSet(out: SampleSink, labels: Record<string, string>, key: string, states: readonly string[], current: string): void {
  for (const state of states) out.push({ labels: { ...labels, [key]: state }, value: state === current ? 1 : 0 });
}

export function hostFamilies(src: HostsSource): Family[] {
  const topologies = function* (): Generator<[Record<string, string>, Topology]> {
    for (const [database, t] of src.topologies()) yield [{ database }, t];
  };
  const backends = function* (): Generator<[Record<string, string>, Backend]> {
    // A host several databases name is one backend: one series.
    const seen = new Set<Backend>();
    for (const t of src.topologies().values()) for (const b of t.backends) seen.add(b);
    for (const b of seen) yield [{ host: b.label }, b];
  };
  const routed = function* (): Generator<[Record<string, string>, ReplicaSet]> {
    for (const [database, set] of src.replicaSets()) yield [{ database }, set];
  };
  return [
    family('pgmux_database_primary_state', 'gauge', 'Whether a primary takes writes (up), is being looked for while requests wait (searching), or was not found within failover_timeout (unavailable)', (s) => {
      for (const [labels, t] of topologies()) stateSet(s, labels, 'state', PRIMARY_STATES, t.state);
    }),
    family('pgmux_database_primary_info', 'gauge', 'The host that is the primary now', (s) => {
      for (const [labels, t] of topologies()) if (t.primary !== null) s.push({ labels: { ...labels, host: t.primary.label }, value: 1 });
    }),
    ...table(TOPOLOGY, topologies),
    family('pgmux_backend_breaker_state', 'gauge', 'Circuit breaker of each host: closed (pools dial), open (nobody dials), half-open (one probe is trying)', (s) => {
      for (const [labels, b] of backends()) stateSet(s, labels, 'state', BREAKER_STATES, b.breaker.state);
    }),
    family('pgmux_backend_role', 'gauge', 'What the last probe found each host to be', (s) => {
      for (const [labels, b] of backends()) stateSet(s, labels, 'role', ROLES, b.role);
    }),
    family('pgmux_backend_failures', 'gauge', 'Failures by kind since the host last answered', (s) => {
      for (const [labels, b] of backends()) for (const kind of FAILURE_KINDS) s.push({ labels: { ...labels, kind }, value: b.breaker.counts[kind] });
    }),
    ...table(BACKEND, backends),
    ...replicaFamilies(src),
    family('pgmux_routing_decisions_total', 'counter', 'Routing decisions by reason code (as SHOW ROUTE gives them)', (s) => {
      for (const [labels, set] of routed()) for (const [reason, n] of set.reasons) s.push({ labels: { ...labels, reason }, value: n });
    }),
    family('pgmux_replica_reads_total', 'counter', 'Reads routed to each replica', (s) => {
      for (const [database, set] of src.replicaSets()) {
        const t = src.topologies().get(database);
        if (t === undefined) continue;
        set.routed.forEach((n, i) => s.push({ labels: { database, host: t.backends[i]?.label ?? String(i) }, value: n }));
      }
    }),
    ...table(ROUTED, routed),
    family('pgmux_pinned_clients', 'gauge', 'Clients held on the primary by session state, by reason (SHOW PINS)', (s) => {
      for (const [labels, set] of routed()) for (const reason of PIN_REASONS) s.push({ labels: { ...labels, reason }, value: set.pins.now.get(reason) ?? 0 });
    }),
    family('pgmux_pins_total', 'counter', 'Times a client became pinned to the primary, by reason', (s) => {
      for (const [labels, set] of routed()) for (const reason of PIN_REASONS) s.push({ labels: { ...labels, reason }, value: set.pins.total.get(reason) ?? 0 });
    }),
  ];
}

/** Lag and state of every host that is not the primary now, per database (SHOW REPLICAS' rows). */
function replicaFamilies(src: HostsSource): Family[] {
  const replicas = function* (): Generator<[Record<string, string>, Topology, number]> {
    for (const [database, t] of src.topologies()) {
      for (const r of t.tracker.replicas) {
        const b = t.backends[r.index];
        if (b === t.primary) continue;
        yield [{ database, host: b.label }, t, r.index];
      }
    }
  };
  return [
    family('pgmux_replica_lag_bytes', 'gauge', 'WAL the primary has that the replica has not replayed, in bytes', (s) => {
      for (const [labels, t, i] of replicas()) {
        const v = t.tracker.replicas[i].lagBytes;
        if (v !== null) s.push({ labels, value: v });
      }
    }),
    family('pgmux_replica_lag_seconds', 'gauge', 'Seconds since the oldest WAL the replica has not replayed was seen on the primary', (s) => {
      for (const [labels, t, i] of replicas()) {
        const v = t.tracker.replicas[i].lagSeconds;
        if (v !== null) s.push({ labels, value: v });
      }
    }),
    family('pgmux_replica_state', 'gauge', 'Whether each replica takes reads (up) or why not', (s) => {
      for (const [labels, t, i] of replicas()) stateSet(s, labels, 'state', REPLICA_STATES, t.tracker.replicas[i].state);
    }),
  ];
}
