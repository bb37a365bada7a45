// Owns the rows of the console's read/write splitting and session views (SHOW REPLICAS, SHOW PINS,
// SHOW ROUTE <sql>), read from the registry's replica sets (lib/routing/router.ts) and pools.

import { databaseHosts } from '../config';
import type { Registry } from '../pool/registry';
import { classify, withRoute } from '../routing/classify';
import { withoutKey } from '../routing/consistency-key';
import { Reason } from '../routing/route';
import { ruleColumns } from './rules-rows';
import { formatLsn } from '../routing/lsn';
import { PIN_REASONS, type PinCounts } from '../session/pins';
import type { HostRow, KeyRow, PinRow, ReplicaRow, RouteRow } from './views';

/**
 * Per database (every configured one, and every one a pool was made for) and pin reason: clients
 * pinned now and pinnings so far, over the database's pools (lib/session/pins). Every reason has
 * a row whether or not it occurred.
 */
export function pinRows(registry: Registry): PinRow[] {
  const byDatabase = new Map<string, PinCounts[]>();
  for (const name of registry.config.databases.keys()) if (name !== '*') byDatabase.set(name, []);
  for (const pool of registry.pools.values()) {
    const list = byDatabase.get(pool.db.name);
    if (list === undefined) byDatabase.set(pool.db.name, [pool.pins]);
    else list.push(pool.pins);
  }
  const out: PinRow[] = [];
  for (const [database, counts] of byDatabase) {
    for (const reason of PIN_REASONS) {
      let pinnedNow = 0;
      let pinnedTotal = 0;
      for (const c of counts) {
        pinnedNow += c.now.get(reason) ?? 0;
        pinnedTotal += c.total.get(reason) ?? 0;
      }
      out.push({ database, reason, pinnedNow, pinnedTotal });
    }
  }
  return out;
}

/** SHOW ROUTE's own syntax: the rest of the line is SQL, which the console's `CMD [arg]` cannot carry. */
export const SHOW_ROUTE = /^\s*show\s+route\s+([\s\S]+?)\s*$/i;

/**
 * One row per host that may take reads of every database whose replica set runs (made at its
 * first routed login): each host but the one that is the primary now (SHOW HOSTS shows all).
 */
export function replicaRows(registry: Registry): ReplicaRow[] {
  const out: ReplicaRow[] = [];
  for (const [database, set] of registry.replicaSets) {
    const topology = registry.hosts.topologies.get(database);
    for (const r of set.tracker.replicas) {
      if (topology !== undefined && topology.primary === topology.backends[r.index]) continue;
      out.push({
        database,
        host: r.address.host ?? (registry.settings.unix_socket_dir || '/tmp'),
        port: r.address.port,
        weight: r.address.weight,
        state: r.state,
        reason: r.reason,
        lagBytes: r.lagBytes,
        lagSeconds: r.lagSeconds,
        replayLsn: r.replayLsn === null ? null : formatLsn(r.replayLsn),
        readsRouted: set.routed[r.index],
      });
    }
  }
  return out;
}

/**
 * Where `sql` would go from a client with no session state and no recent write, per configured
 * database, with the [rules] that would act on it; before a database's first login its replicas
 * are not polled yet, so only the statement's own verdict is known. A single-host database sends
 * everything to its one host.
 */
export function routeRows(registry: Registry, sql: string): RouteRow[] {
  const out: RouteRow[] = [];
  for (const [database, db] of registry.config.databases) {
    if (database === '*') continue;
    const c = classify(withoutKey(sql));
    const rules = ruleColumns(registry, database, withoutKey(sql), c.target);
    const rule = rules.route;
    const ruleCols = { rule: rules.rule, ruleActions: rules.ruleActions, fingerprint: rules.fingerprint };
    if (databaseHosts(db).length < 2) {
      out.push({ database, route: 'primary', reason: Reason.noReplicas, statement: c.reason, tier: c.tier, ...ruleCols });
      continue;
    }
    const set = registry.replicaSets.get(database);
    if (set === undefined) {
      const routed = rule === null ? c : withRoute(c, rule.to, `rule ${rule.rule}`);
      out.push({ database, route: `${routed.target} (replicas not polled yet)`, reason: routed.reason, statement: c.reason, tier: c.tier, ...ruleCols });
      continue;
    }
    const { classification, decision } = set.explain(sql, rule);
    out.push({ database, route: decision.kind, reason: decision.reason, statement: classification.reason, tier: classification.tier, ...ruleCols });
  }
  return out;
}

/**
 * SHOW HOSTS: every host of every database pgmux has met (configured ones from the start, '*'
 * ones from their first login), with what its probe found and its circuit breaker. A
 * single-host database's host is probed only while in doubt, so its role may read 'unknown'.
 */
export function hostRows(registry: Registry): HostRow[] {
  const out: HostRow[] = [];
  const now = Date.now();
  for (const [database, t] of registry.hosts.topologies) {
    const held = t.holding ? registry.hosts.heldNow(t) : 0;
    t.backends.forEach((b, i) => {
      const status = t.tracker.replicas[i];
      const isPrimary = t.primary === b;
      out.push({
        database,
        host: b.address.host ?? b.address.unixSocketDir,
        port: b.address.port,
        zone: t.opts.hosts[i].zone,
        role: b.probes === 0 || b.failures > 0 ? 'unknown' : b.role,
        state: isPrimary ? 'primary' : status.state,
        primaryState: t.state,
        breaker: b.breaker.state,
        failures: b.failures,
        lastProbeMs: b.lastProbeAt === 0 ? null : now - b.lastProbeAt,
        probeRttMs: b.rttMs,
        timeline: b.timeline,
        lagBytes: isPrimary ? null : status.lagBytes,
        lagSeconds: isPrimary ? null : status.lagSeconds,
        held,
        connectAttempts: b.dialer.attempts,
        reason: b.failures > 0 ? b.lastError : isPrimary ? `primary on timeline ${t.timeline}` : status.reason,
      });
    });
  }
  return out;
}

/**
 * SHOW KEYS: per database whose replica set runs, the application keys remembered
 * (read_your_writes = key) and how keyed reads fared: decided, made to wait for a replica, and
 * sent to the primary when the wait ran out.
 */
export function keyRows(registry: Registry): KeyRow[] {
  const out: KeyRow[] = [];
  for (const [database, set] of registry.replicaSets) {
    out.push({ database, mode: set.readYourWrites, keys: set.writes.keyCount, keyedReads: set.keyed.reads, keyedWaits: set.keyed.waits, keyedTimeouts: set.keyed.timeouts });
  }
  return out;
}
