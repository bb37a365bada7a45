// Wires pgmux together: config and userlist, the registry and janitor, listeners, signals,
// reload and shutdown. The only module that knows everything.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { applyReload, loadConfig, reloadChanges, rulesSettingsProblem, type Config, type Settings } from './config';
import { loadUserlist } from './auth/userlist';
import { parseSecret, type Secret } from './auth/secret';
import { loadHba, type HbaTable } from './auth/hba';
import { buildTlsSetup, installTls } from './auth/tls';
import * as refusals from './protocol/refusals';
import { Registry } from './pool/registry';
import { Janitor } from './pool/janitor';
import { clock } from './clock';
import { ClientConnection } from './client/client-connection';
import { log } from './log';
import { AdminConsole, type ConsoleHost } from './admin/console';
import { socketFd } from './admin/peer';
import { StatsPeriod } from './metrics/stats-period';
import type { PoolStats } from './metrics/counters';
import { loadParser } from './routing/classify';
import { Observability } from './observability';
import { Notifications } from './session/channels';
import { acceptClients, type ClientListener, type ClientSocket, type ClientTcpOptions } from './client/client-socket';
import { LimitShare } from './workers/limits';
import { WorkerLink } from './workers/worker';
import { cancelRoute } from './workers/cancel-route';
import { prepareUnixSocket, removeStaleSocket, unixSocketFile } from './workers/unix-socket';

/** This process's place when it is one of several workers (lib/workers); null: the only one. */
export interface WorkerPlace {
  readonly index: number;
  readonly count: number;
}

/** The longest start waits for the hosts' first probes (a host that does not answer is probed on). */
const FIRST_PROBE_WAIT_S = 3;

export class Pgmux implements ConsoleHost {
  readonly registry: Registry;
  /** stats_period snapshots and the "stats:" log line. */
  readonly stats: StatsPeriod;
  /** The admin console (database "pgbouncer"). */
  readonly console: AdminConsole;
  /** Metrics, the status page and health checks over HTTP (http_listen_port). */
  readonly observability: Observability;
  private readonly janitor: Janitor;
  private readonly listeners: net.Server[] = [];
  /** The listeners' client TCP options (tcp_keepalive, tcp_keepidle), set again at RELOAD. */
  private readonly clientListeners: ClientListener[] = [];
  private unixSocketPath: string | null = null;
  private shutdownMode: 'none' | 'safe' | 'immediate' = 'none';
  private shutdownTimer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>;
  private resolveExit!: () => void;
  /** The config as the file says it; `config` is this worker's share of its limits (lib/workers/limits). */
  private whole: Config;
  private readonly limits: LimitShare | null;
  private readonly link: WorkerLink | null;

  constructor(
    private config: Config,
    private readonly place: WorkerPlace | null = null,
  ) {
    this.whole = config;
    this.limits = place === null ? null : new LimitShare(place.index, place.count);
    if (this.limits !== null) this.config = config = this.limits.split(config);
    this.registry = new Registry(config, loadSecrets(config));
    this.registry.keyIssuer = { peerId: config.settings.peer_id, worker: place?.index ?? null };
    this.janitor = new Janitor(this.registry);
    this.stats = new StatsPeriod(() => this.allStats(), () => this.config.settings.log_stats);
    // SHOW VERSION keeps PgBouncer's prefix: exporters and scripts parse "PgBouncer x.y.z".
    this.console = new AdminConsole(this, `PgBouncer 1.18.0 (pgmux ${VERSION})`);
    this.registry.console = this.console;
    // LISTEN in transaction pooling: one listener connection per (database, user); a LISTEN
    // waits for it at most query_wait_timeout (two minutes when that is off).
    this.registry.notifications = new Notifications(() => (this.config.settings.query_wait_timeout || 120) * 1000);
    this.observability = new Observability(this);
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.link = place === null ? null : new WorkerLink(place.index, this);
    this.link?.attach();
    this.observability.spread = this.link;
    // With workers, worker 0 alone serves HTTP, answering for all (lib/workers/metrics-merge).
    this.observability.serveHttp = place === null || place.index === 0;
    this.registry.cancelElsewhere = cancelRoute(config.settings.peer_id, () => this.config, this.link);
  }

  /** Opens the listeners; resolves when all accept connections. */
  async start(): Promise<void> {
    const s = this.config.settings;
    // The classifier's parser tier (PostgreSQL's grammar, WASM) must be loaded before any routing.
    await loadParser();
    this.registry.hba = loadHbaFor(this.config);
    try {
      installTls(buildTlsSetup(s));
    } catch (err) {
      throw new Error(`TLS setup failed: ${(err as Error).message}`);
    }
    // Before the pooler's own port: an HTTP port that cannot be had stops the start, with nothing taken.
    await this.observability.start(s);
    // After TLS is installed: probes dial with server_tls_sslmode like everything else.
    // Every host's role and replay position known before the first client asks, so a read goes
    // to a caught-up replica (and a multi-host database to its primary) from the first statement.
    await this.registry.startHosts(Math.min(Math.max(s.server_connect_timeout, 1), FIRST_PROBE_WAIT_S) * 1000);
    for (const addr of s.listen_addr) {
      const host = addr === '*' ? '::' : addr;
      await this.listen({ host, port: s.listen_port, backlog: s.listen_backlog, ipv6Only: false }, `${addr}:${s.listen_port}`);
    }
    const file = unixSocketFile(s);
    if (file !== null) {
      // A socket file nobody answers on is left over from a crash; a live one is another pooler's.
      // Workers find it prepared by their main process, and listening through it.
      if (this.place === null) await prepareUnixSocket(file);
      await this.listen({ path: file, backlog: s.listen_backlog }, `unix:${file}`);
      fs.chmodSync(file, s.unix_socket_mode);
      this.unixSocketPath = file;
    }
    if (s.pidfile !== '' && this.place === null) fs.writeFileSync(s.pidfile, `${process.pid}\n`);
    this.janitor.start();
    this.stats.start(s.stats_period);
    log.info(this.place === null ? `process up: pgmux ${VERSION}, node ${process.version}` : `worker ${this.place.index} up: pgmux ${VERSION}, node ${process.version}`);
    this.link?.ready();
  }

  private listen(options: net.ListenOptions, label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // Connections come through acceptClients (client/client-socket), set up once it listens.
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EAFNOSUPPORT' && options.host === '::') {
          // No IPv6 on this host: '*' means every IPv4 address then.
          this.listen({ ...options, host: '0.0.0.0' }, label).then(resolve, reject);
          return;
        }
        reject(new Error(`cannot listen on ${label}: ${err.message}`));
      });
      server.listen(options, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => log.error(`listener ${label}: ${err.message}`));
        this.clientListeners.push(acceptClients(server, (socket) => this.accept(socket), clientTcpOptions(this.config.settings)));
        log.info(`listening on ${label}`);
        this.listeners.push(server);
        resolve();
      });
    });
  }

  private accept(socket: ClientSocket): void {
    // The client's connect time (client_login_timeout) is this reading.
    clock.tick();
    const s = this.config.settings;
    const registry = this.registry;
    if (registry.clients.size >= s.max_client_conn || this.shutdownMode !== 'none') {
      // Refused, but only after its first packets are answered (SSLRequest 'N' or 'S', a cancel
      // request served): the refusal is then the answer to its StartupMessage, which psql with
      // sslmode=prefer prints as it is (PgBouncer's order). Counted toward nothing meanwhile, and
      // closed by the janitor if it has not gone within a second (turnedAway).
      const refusal = this.shutdownMode !== 'none' ? refusals.adminShutdown() : refusals.tooManyConnections();
      registry.turnedAway.add(new ClientConnection(socket, registry, null, refusal));
      return;
    }
    const client = new ClientConnection(socket, registry);
    registry.clients.add(client);
    this.console.control.acceptWhileSuspended(client);
  }

  /**
   * SIGHUP / RELOAD: re-read the file, apply what may change while running, say what may not.
   * Returns null when the new config runs, else why the old one stays.
   */
  reload(): string | null {
    let next: Config;
    try {
      // conffile: the file named on the command line, unless the config (or SET conffile) names another.
      next = loadConfig(this.whole.settings.conffile || this.whole.file);
    } catch (err) {
      log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      return (err as Error).message;
    }
    const changes = reloadChanges(this.whole, next);
    for (const ignored of changes.ignored) log.warn(ignored.reason);
    // Non-reloadable settings keep their running value.
    const merged = applyReload(this.whole, next);
    // Rules that need what only a restart turns on (result_cache_size) are refused with the old ones kept.
    const problem = rulesSettingsProblem(merged.rules ?? [], merged.settings.result_cache_size);
    if (problem !== null) {
      log.error(`reload failed, keeping the running config: ${problem.message}`);
      return problem.message;
    }
    const failure = this.applyWhole(merged);
    if (failure === null) log.info(`config reloaded${changes.applied.length > 0 ? `: ${changes.applied.join(', ')}` : ''}`);
    return failure;
  }

  /** SET on the console: runs with `next` (built from the running config) from now on; null, or why it could not. */
  applyConfig(next: Config): string | null {
    return this.applyWhole(this.limits === null ? next : this.limits.unsplit(next, this.whole, this.config));
  }

  /** Runs with `next`, the config as the file says it, from now on (RELOAD, SET); null, or why it could not. */
  private applyWhole(next: Config): string | null {
    let secrets: ReadonlyMap<string, Secret>;
    let hba: HbaTable | null;
    try {
      secrets = loadSecrets(next);
      hba = loadHbaFor(next);
    } catch (err) {
      log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      return (err as Error).message;
    }
    try {
      applyLogSettings(next);
    } catch (err) {
      // A SIGHUP must never take the process down: keep writing where we wrote before.
      log.error(`cannot open logfile ${next.settings.logfile}, keeping the previous one: ${(err as Error).message}`);
      next = { ...next, settings: { ...next.settings, logfile: this.config.settings.logfile } };
    }
    this.whole = next;
    if (this.limits !== null) next = this.limits.split(next);
    this.config = next;
    this.registry.reload(next, secrets);
    this.registry.hba = hba;
    const tcp = clientTcpOptions(next.settings);
    for (const l of this.clientListeners) l.setTcpOptions(tcp);
    this.stats.start(next.settings.stats_period);
    void this.observability.reload(next.settings);
    return this.reloadTls(next);
  }

  /**
   * Re-reads the TLS files and settings (certificates can be rotated with RELOAD). As PgBouncer,
   * the rest of the config still applies when they fail, and TLS keeps its previous setup.
   */
  private reloadTls(next: Config): string | null {
    try {
      installTls(buildTlsSetup(next.settings));
      return null;
    } catch (err) {
      log.error(`TLS configuration could not be reloaded, keeping old configuration: ${(err as Error).message}`);
      return `TLS settings could not be applied, still using old configuration: ${(err as Error).message}`;
    }
  }

  // ---- ConsoleHost: what the admin console may do to the process ----

  get shuttingDown(): boolean {
    return this.shutdownMode !== 'none';
  }

  /** This process's own /metrics exposition (lib/workers: another worker's scrape). */
  metricsText(openMetrics: boolean): string {
    return this.observability.localMetrics(openMetrics);
  }

  /** The settings as the file says them (SHOW CONFIG); `registry.settings` are this worker's share. */
  get wholeSettings(): Settings {
    return this.whole.settings;
  }

  /** SHOW VERSION's text (pgbouncer_version_info). */
  get version(): string {
    return this.console.version;
  }

  /** SHUTDOWN on the console: as SIGTERM (to the main process, with workers). */
  shutdownNow(): void {
    if (this.link !== null) this.link.shutdownAll();
    else void this.shutdown('immediate');
  }

  /** The listening sockets, for SHOW FDS. */
  listenSockets(): { fd: number | null; addr: string; port: number }[] {
    return this.listeners.map((l) => {
      const a = l.address();
      const tcp = a !== null && typeof a === 'object';
      return { fd: socketFd(l), addr: tcp ? a.address : 'unix', port: tcp ? a.port : this.config.settings.listen_port };
    });
  }

  /** Every pool's counters and the console's, for the stats_period snapshots. */
  private allStats(): PoolStats[] {
    const all = [...this.registry.pools.values()].map((p) => p.stats);
    all.push(this.console.consoleStats);
    return all;
  }

  /**
   * SIGINT: stop accepting, let running transactions finish, then close everyone.
   * SIGTERM: close everything now.
   */
  shutdown(mode: 'safe' | 'immediate', why = mode === 'safe' ? 'got SIGINT, shutting down safely' : 'got SIGTERM, shutting down immediately'): Promise<void> {
    if (this.shutdownMode === 'immediate' || this.shutdownMode === mode) return this.exited;
    this.shutdownMode = mode;
    log.info(why);
    this.closeListeners();
    if (mode === 'immediate') {
      this.finish();
      return this.exited;
    }
    for (const pool of this.registry.pools.values()) pool.paused = true;
    this.shutdownTimer = setInterval(() => {
      clock.tick();
      const busy = [...this.registry.pools.values()].some((p) => p.active.size > 0);
      if (!busy) this.finish();
    }, 50);
    return this.exited;
  }

  /** A restart: no new connection or HTTP request reaches this process, the new worker takes them (lib/workers/handover). */
  stopAccepting(): void {
    this.closeListeners();
    this.observability.stop();
  }

  /** A restart: every client went to the new worker (lib/workers/handover); its servers close, and the process ends. */
  retire(): Promise<void> {
    return this.shutdown('immediate', 'every client went to the new worker: exiting');
  }

  private closeListeners(): void {
    for (const l of this.listeners) l.close();
    this.listeners.length = 0;
    this.clientListeners.length = 0;
  }

  private finish(): void {
    if (this.shutdownTimer !== null) clearInterval(this.shutdownTimer);
    this.shutdownTimer = null;
    this.janitor.stop();
    this.stats.stop();
    this.observability.stop();
    this.registry.stopRouting();
    this.registry.notifications?.closeAll();
    for (const client of [...this.registry.clients, ...this.registry.turnedAway]) client.fail(refusals.adminShutdown());
    for (const pool of this.registry.pools.values()) pool.closeAll('shutdown');
    if (this.unixSocketPath !== null && this.place === null) removeStaleSocket(this.unixSocketPath);
    const pidfile = this.config.settings.pidfile;
    if (pidfile !== '') fs.rmSync(pidfile, { force: true });
    log.info('shutdown complete');
    this.resolveExit();
  }

  whenExited(): Promise<void> {
    return this.exited;
  }
}

/** pgmux's version, from the package.json above this file (source or dist alike). */
export const VERSION: string = readVersion();

/** tcp_keepalive and tcp_keepidle as client connections get them. */
function clientTcpOptions(s: Settings): ClientTcpOptions {
  return { keepAlive: s.tcp_keepalive, keepIdleSeconds: s.tcp_keepidle };
}

function readVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    dir = path.dirname(dir);
  }
  return 'unknown';
}

/** The userlist as parsed secrets; empty when no auth_file is set. */
function loadSecrets(config: Config): ReadonlyMap<string, Secret> {
  const file = config.settings.auth_file;
  const out = new Map<string, Secret>();
  if (file === '') return out;
  for (const [user, secret] of loadUserlist(file)) out.set(user, parseSecret(secret));
  return out;
}

/**
 * auth_hba_file's rules when auth_type = hba, else null. Parsed once here (start, RELOAD), never
 * per login; a file that does not parse stops start-up, or keeps the running rules on RELOAD.
 */
function loadHbaFor(config: Config): HbaTable | null {
  const s = config.settings;
  if (s.auth_type !== 'hba') return null;
  if (s.auth_hba_file === '') throw new Error('auth_type = hba needs auth_hba_file: set it to the file of hba rules');
  const table = loadHba(s.auth_hba_file);
  for (const warning of table.warnings) log.warn(warning);
  return table;
}

/** logfile and verbose, at start and whenever the config changes (RELOAD, SET). */
export function applyLogSettings(config: Config): void {
  log.setVerbose(config.settings.verbose);
  log.setLogfile(config.settings.logfile);
}
