// Wires pgmux together: config and userlist, the registry and janitor, listeners, signals,
// reload and shutdown. The only module that knows everything.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { applyReload, loadConfig, reloadChanges, type Config } from './config';
import { loadUserlist } from './auth/userlist';
import { parseSecret, type Secret } from './auth/secret';
import { errorResponse } from './protocol/backend';
import * as refusals from './protocol/refusals';
import { Registry } from './pool/registry';
import { Janitor } from './pool/janitor';
import { clock } from './pool/clock';
import { ClientConnection } from './client/client-connection';
import { log } from './log';

/** A client over max_client_conn is closed this long after its refusal if it does not go. */
const REFUSED_CLIENT_GRACE_MS = 1000;

export class Pgmux {
  readonly registry: Registry;
  private readonly janitor: Janitor;
  private readonly listeners: net.Server[] = [];
  private unixSocketPath: string | null = null;
  private shutdownMode: 'none' | 'safe' | 'immediate' = 'none';
  private shutdownTimer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>;
  private resolveExit!: () => void;

  constructor(private config: Config) {
    this.registry = new Registry(config, loadSecrets(config));
    this.janitor = new Janitor(this.registry);
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Opens the listeners; resolves when all accept connections. */
  async start(): Promise<void> {
    const s = this.config.settings;
    for (const addr of s.listen_addr) {
      const host = addr === '*' ? '::' : addr;
      await this.listen({ host, port: s.listen_port, backlog: s.listen_backlog, ipv6Only: false }, `${addr}:${s.listen_port}`);
    }
    if (s.unix_socket_dir !== '') {
      const file = path.join(s.unix_socket_dir, `.s.PGSQL.${s.listen_port}`);
      removeStaleSocket(file);
      await this.listen({ path: file, backlog: s.listen_backlog }, `unix:${file}`);
      fs.chmodSync(file, s.unix_socket_mode);
      this.unixSocketPath = file;
    }
    if (s.pidfile !== '') fs.writeFileSync(s.pidfile, `${process.pid}\n`);
    this.janitor.start();
    log.info(`process up: pgmux ${VERSION}, node ${process.version}`);
  }

  private listen(options: net.ListenOptions, label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
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
        log.info(`listening on ${label}`);
        this.listeners.push(server);
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    const remote = socket.remoteAddress === undefined ? 'unix' : `${socket.remoteAddress.replace(/^::ffff:/, '')}:${socket.remotePort}`;
    const s = this.config.settings;
    if (s.tcp_keepalive && socket.remoteAddress !== undefined) socket.setKeepAlive(true, s.tcp_keepidle * 1000);
    const client = new ClientConnection(socket, this.registry, socket.remoteAddress === undefined ? 'unix' : remote);
    const registry = this.registry;
    if (registry.clients.size >= this.config.settings.max_client_conn || this.shutdownMode !== 'none') {
      // Refuse at once with the reason; the client reads it as the answer to its startup packet.
      const refusal = this.shutdownMode !== 'none' ? refusals.adminShutdown() : refusals.tooManyConnections();
      if (this.config.settings.log_pooler_errors) log.warn(`pooler error: ${refusal.message}`, client);
      socket.end(errorResponse({ ...refusal, severity: 'FATAL' }));
      setTimeout(() => socket.destroy(), REFUSED_CLIENT_GRACE_MS).unref();
      socket.on('error', () => undefined);
      return;
    }
    registry.clients.add(client);
  }

  /** SIGHUP / RELOAD: re-read the file, apply what may change while running, say what may not. */
  reload(): void {
    let next: Config;
    try {
      next = loadConfig(this.config.file);
    } catch (err) {
      log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    const changes = reloadChanges(this.config, next);
    for (const ignored of changes.ignored) log.warn(ignored.reason);
    // Non-reloadable settings keep their running value.
    next = applyReload(this.config, next);
    let secrets: ReadonlyMap<string, Secret>;
    try {
      secrets = loadSecrets(next);
    } catch (err) {
      log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    this.config = next;
    applyLogSettings(next);
    this.registry.reload(next, secrets);
    log.info(`config reloaded${changes.applied.length > 0 ? `: ${changes.applied.join(', ')}` : ''}`);
  }

  /**
   * SIGINT: stop accepting, let running transactions finish, then close everyone.
   * SIGTERM: close everything now.
   */
  shutdown(mode: 'safe' | 'immediate'): Promise<void> {
    if (this.shutdownMode === 'immediate' || this.shutdownMode === mode) return this.exited;
    this.shutdownMode = mode;
    log.info(mode === 'safe' ? 'got SIGINT, shutting down safely' : 'got SIGTERM, shutting down immediately');
    for (const l of this.listeners) l.close();
    this.listeners.length = 0;
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

  private finish(): void {
    if (this.shutdownTimer !== null) clearInterval(this.shutdownTimer);
    this.shutdownTimer = null;
    this.janitor.stop();
    for (const client of [...this.registry.clients]) client.fail(refusals.adminShutdown());
    for (const pool of this.registry.pools.values()) pool.closeAll('shutdown');
    if (this.unixSocketPath !== null) removeStaleSocket(this.unixSocketPath);
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

export function applyLogSettings(config: Config): void {
  log.setLogfile(config.settings.logfile);
}

function removeStaleSocket(file: string): void {
  try {
    if (fs.statSync(file).isSocket()) fs.unlinkSync(file);
  } catch {
    /* not there */
  }
}
