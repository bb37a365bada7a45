// Wires what pgmux shows about itself (part of the composition root, lib/pgmux.ts): the
// per-request observer, the /metrics families over the registry, the console's rows and the
// failover and routing objects, the status page's data and history, and the HTTP listener that
// serves them, turned on, moved or off by the config at start and at each RELOAD.

import type { Settings } from './config';
import { clientCounts, databaseRows, dbStatsRows, listRows, poolRows, type Inventory } from './admin/rows';
import { routeRows } from './admin/routing-rows';
import type { Registry } from './pool/registry';
import { PreparedLink } from './prepared/link';
import { Exposition } from './metrics/exposition';
import { ConsoleRows, pgbouncerFamilies, type ConsoleView } from './metrics/families-pgbouncer';
import { requestFamilies, type PreparedCounters } from './metrics/families-pgmux';
import { hostFamilies } from './metrics/families-hosts';
import { ProcessSampler, processFamilies } from './metrics/families-process';
import { History } from './metrics/history';
import { HttpListener, type HttpHost, type MetricsAnswer } from './http/server';
import { statusData } from './http/status-data';
import { log } from './log';

/** What it needs of the pooler. */
export interface Observed {
  readonly registry: Registry;
  /** The admin console, whose rows /metrics and the status page show. */
  readonly console: Inventory;
  readonly version: string;
  readonly shuttingDown: boolean;
}

/** With several workers (lib/workers): one exposition for the whole pgmux out of this worker's. */
export interface MetricsSpread {
  widenMetrics(openMetrics: boolean, local: string): Promise<string>;
}

export class Observability implements HttpHost {
  /** Set by pgmux.ts when there are several workers (worker 0 serves HTTP). */
  spread: MetricsSpread | null = null;
  /** false on workers other than 0: they measure, and worker 0 answers HTTP for all of them. */
  serveHttp = true;
  private readonly exposition: Exposition;
  private readonly history: History;
  private readonly http: HttpListener;
  private readonly startedAt = Date.now();
  private readonly rows: ConsoleRows;
  private readonly process = new ProcessSampler();

  constructor(private readonly pooler: Observed) {
    const registry = pooler.registry;
    const view: ConsoleView = {
      version: pooler.version,
      pools: () => poolRows(pooler.console),
      databases: () => databaseRows(pooler.console),
      lists: () => listRows(pooler.console),
      stats: () => dbStatsRows(pooler.console),
      clientCounts: () => clientCounts(pooler.console),
      get maxClientConn() {
        return registry.settings.max_client_conn;
      },
      get maxUserConnections() {
        return registry.settings.max_user_connections;
      },
    };
    this.rows = new ConsoleRows(view);
    const source = {
      pools: () => registry.pools.values(),
      fingerprints: registry.observer.fingerprints,
      loginErrors: registry.observer.loginErrors,
      prepared: (): PreparedCounters => ({
        hits: PreparedLink.cacheHits,
        misses: PreparedLink.cacheMisses,
        evictions: PreparedLink.evictions,
        reprepares: PreparedLink.reprepares,
        reruns: PreparedLink.reruns,
        statements: registry.statements.size,
      }),
      topologies: () => registry.hosts.topologies,
      replicaSets: () => registry.replicaSets,
    };
    this.exposition = new Exposition(
      [...pgbouncerFamilies(this.rows), ...requestFamilies(source), ...hostFamilies(source), ...processFamilies(this.process)],
      () => {
        this.rows.startScrape();
        this.process.startScrape();
      },
      () => this.process.reset(),
    );
    this.history = new History({ pools: () => registry.pools.values() });
    this.http = new HttpListener(this);
  }

  /** At start: a listener that cannot bind stops pgmux with the reason. */
  async start(settings: Settings): Promise<void> {
    this.configureObserver(settings);
    if (this.serveHttp) await this.http.configure(settings.http_listen_addr, settings.http_listen_port);
  }

  /** RELOAD or SET: what can change does; a listener that cannot move stays where it is. */
  async reload(settings: Settings): Promise<string | null> {
    this.configureObserver(settings);
    if (!this.serveHttp) return null;
    try {
      await this.http.configure(settings.http_listen_addr, settings.http_listen_port);
      return null;
    } catch (err) {
      log.error(`${(err as Error).message}; the HTTP listener stays as it was`);
      return (err as Error).message;
    }
  }

  stop(): void {
    this.http.close();
    this.history.stop();
    this.process.stop();
    this.pooler.registry.observer.stop();
  }

  /** Where the HTTP listener is, for logs and the demo. */
  get httpAddress(): { address: string; port: number } | null {
    return this.http.address;
  }

  private configureObserver(s: Settings): void {
    const registry = this.pooler.registry;
    const on = s.http_listen_port !== 0;
    registry.observer.configure(on, s.slow_query_threshold, s.metrics_fingerprints);
    for (const pool of registry.pools.values()) registry.observer.attach(pool.stats);
    if (on) {
      this.history.start();
      this.process.start();
    } else {
      this.history.stop();
      this.process.stop();
    }
  }

  // ---- HttpHost ----

  metrics(openMetrics: boolean): MetricsAnswer | Promise<MetricsAnswer> {
    const local = this.exposition.render(openMetrics);
    if (this.spread === null) return local;
    return this.spread.widenMetrics(openMetrics, local.body).then((body) => ({ contentType: local.contentType, body }));
  }

  /** This process's own exposition (another worker's scrape asks for it). */
  localMetrics(openMetrics: boolean): string {
    return this.exposition.render(openMetrics).body;
  }

  notReady(): string[] {
    const why: string[] = [];
    if (this.pooler.shuttingDown) why.push('shutting down');
    for (const t of this.pooler.registry.hosts.topologies.values()) {
      const reason = t.notReady();
      if (reason !== null) why.push(reason);
    }
    return why;
  }

  status(): unknown {
    const registry = this.pooler.registry;
    return statusData({
      version: this.pooler.version,
      startedAt: this.startedAt,
      pools: () => poolRows(this.pooler.console),
      topologies: () => registry.hosts.topologies,
      replicaSets: () => registry.replicaSets,
      fingerprints: registry.observer.fingerprints,
      history: () => this.history.all(),
      notReady: () => this.notReady(),
    });
  }

  route(sql: string): unknown {
    return { rows: routeRows(this.pooler.registry, sql) };
  }
}
