// Owns the admin console as a whole (PgBouncer's admin.c): who may log in to the virtual
// database "pgbouncer" and with which rights, the open sessions, and running one query:
// parse it, check the caller's rights, run the command row, log as PgBouncer does.
//
// Rights: admin_users run everything; stats_users run SHOW (not SHOW FDS) and the faked SETs;
// anyone else is refused at login with "not allowed". A unix-socket login as user pgbouncer by
// the OS user running pgmux is an admin without a password (PgBouncer's rule).

import type { Config, Settings } from '../config';
import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { Registry } from '../pool/registry';
import type { ClientConnection } from '../client/client-connection';
import { PoolStats } from '../metrics/counters';
import type { StatsPeriod } from '../metrics/stats-period';
import { clock } from '../clock';
import { log } from '../log';
import { Control } from './control';
import * as errors from './errors';
import { findView } from './show';
import { findCommand, setCommand, type CommandHost, type Reply } from './commands';
import { parseCommand } from './parse';
import { routeRows, SHOW_ROUTE } from './routing-rows';
import { renderView } from './table';
import { ROUTE } from './views';
import { unixPeerUid } from './peer';
import { ADMIN_NAME } from './rows';
import { Session, type SessionHost } from './session';
import type { ConsoleGate, ConsoleSession } from '../client/console-gate';

/** What the console needs from pgmux (lib/pgmux.ts implements it). */
export interface ConsoleHost {
  readonly registry: Registry;
  readonly stats: StatsPeriod;
  readonly shuttingDown: boolean;
  /** The settings as the config file says them (a worker runs with a share of the limits: lib/workers/limits). */
  readonly wholeSettings: Settings;
  /** RELOAD (as SIGHUP): null when the config was re-read, else why it was not. */
  reload(): string | null;
  /** SET: apply these settings to the running pooler; null, or why it could not. */
  applyConfig(next: Config): string | null;
  /** SHUTDOWN: exit at once. */
  shutdownNow(): void;
  /** Listening sockets, for SHOW FDS's pooler rows. */
  listenSockets(): { fd: number | null; addr: string; port: number }[];
}

/**
 * With several workers (lib/workers): widens a reply this worker's console gave to the whole
 * pgmux (SHOW gathered from every worker, commands run on every worker). Null: one process.
 */
export interface ConsoleSpread {
  widen(query: string, local: Reply): Promise<Reply>;
}

/** The caller of a command another worker's console forwarded: an admin with no session of its own. */
const PEER_CALLER = { isAdmin: true };

export class AdminConsole implements ConsoleGate, CommandHost, SessionHost {
  /** Set by pgmux.ts when there are several workers. */
  spread: ConsoleSpread | null = null;
  readonly control: Control;
  /** The pgbouncer/pgbouncer pool's counters (SHOW STATS has a row for it, as PgBouncer). */
  readonly consoleStats = new PoolStats();
  private readonly sessions = new Set<Session>();
  /** Clients that passed the unix-socket own-user check in preLogin. */
  private readonly trusted = new WeakSet<ClientConnection>();

  constructor(
    private readonly host: ConsoleHost,
    readonly version: string,
  ) {
    this.control = new Control(host.registry);
  }

  // ---- the inventory SHOW reads ----

  get registry(): Registry {
    return this.host.registry;
  }
  get stats(): StatsPeriod {
    return this.host.stats;
  }
  get shuttingDown(): boolean {
    return this.host.shuttingDown;
  }
  get configSettings(): Settings {
    return this.host.wholeSettings;
  }
  get pauseMode(): 'none' | 'pause' | 'suspend' {
    return this.control.mode;
  }
  get consoleClients(): Iterable<ClientConnection> {
    return [...this.registry.clients].filter((c) => c.console !== null);
  }
  listeners(): { fd: number | null; addr: string; port: number }[] {
    return this.host.listenSockets();
  }
  reload(): string | null {
    return this.host.reload();
  }
  applyConfig(next: Config): string | null {
    return this.host.applyConfig(next);
  }
  shutdown(): void {
    this.host.shutdownNow();
  }

  // ---- ConsoleGate ----

  preLogin(client: ClientConnection, done: (trusted: boolean) => void): void {
    if (client.user !== ADMIN_NAME || client.socket.remoteAddress !== undefined) {
      done(false);
      return;
    }
    unixPeerUid(client.socket.fd)
      .then((uid) => {
        const own = uid !== undefined && uid === process.getuid?.();
        if (own) {
          this.trusted.add(client);
          if (this.registry.settings.log_connections) log.info('pgbouncer access from unix socket', client);
        }
        done(own);
      })
      .catch((err: Error) => client.close(`admin login failed: ${err.message}`));
  }

  open(client: ClientConnection): ConsoleSession | ErrorFields {
    const s = this.registry.settings;
    const isAdmin = this.trusted.has(client) || s.admin_users.includes(client.user);
    if (!isAdmin && !s.stats_users.includes(client.user)) return refusals.adminNotAllowed();
    client.cancelKey = this.registry.assignCancelKey(client);
    const session = new Session(client, this, isAdmin);
    this.sessions.add(session);
    session.welcome();
    return session;
  }

  // ---- SessionHost ----

  sessionClosed(session: Session): void {
    this.sessions.delete(session);
    const suspended = this.control.mode === 'suspend';
    this.control.sessionGone(session, this.sessions.size);
    // The admin that suspended every worker is gone: the others resume as this one just did.
    if (suspended && this.control.mode === 'none' && this.spread !== null) void this.spread.widen('RESUME', []);
  }

  async execute(session: Session, query: string): Promise<Reply> {
    const timing = session.client.timing;
    // PgBouncer counts a console client's first query and never ends it (no server answers it).
    if (timing.queryStart === 0 && timing.requestAt === 0) timing.begin(this.consoleStats);
    timing.requestAt = clock.now;
    log.debug(`got admin query: ${query}`, session.client);
    let reply: Reply;
    try {
      reply = await this.run(session, query);
      if (this.spread !== null) reply = await this.spread.widen(query, reply);
    } catch (err) {
      // A fault in pgmux itself: the session and the process go on.
      reply = errors.commandFailed((err as Error).message);
    }
    if (reply !== null && !Array.isArray(reply)) {
      log.error(reply.message);
      if (this.registry.settings.log_pooler_errors) log.warn(`pooler error: ${reply.message}`, session.client);
    }
    return reply;
  }

  /** A command another worker's console ran, run here too (lib/workers): null, or why it failed here. */
  async runForPeer(query: string): Promise<string | null> {
    log.debug(`admin query from another worker: ${query}`);
    const reply = await this.run(PEER_CALLER, query);
    return reply === null || Array.isArray(reply) ? null : reply.message;
  }

  /** SHOW `arg` as this worker alone would answer it, for another worker's console (lib/workers). */
  renderForPeer(arg: string): Buffer[] {
    const view = findView(arg);
    return view === undefined ? [] : view.render(this);
  }

  private run(session: { readonly isAdmin: boolean }, query: string): Reply | Promise<Reply> {
    const route = SHOW_ROUTE.exec(query);
    if (route !== null) return renderView(ROUTE, routeRows(this.registry, route[1]));
    const parsed = parseCommand(query);
    switch (parsed.kind) {
      case 'invalid':
        return errors.invalidCommand(query);
      case 'bad-arguments':
        return errors.badArguments();
      case 'set':
        return setCommand(this, session.isAdmin, parsed.key, parsed.value);
      case 'command': {
        const cmd = findCommand(parsed.verb);
        if (cmd === undefined) return errors.invalidCommand(query);
        if (cmd.arg === 'none' && parsed.arg !== '') return errors.invalidCommand(query);
        if (cmd.adminOnly && !session.isAdmin) return errors.adminAccessNeeded();
        if (cmd.arg === 'required' && parsed.arg === '') return errors.databaseRequired();
        return cmd.run({ host: this, session, isAdmin: session.isAdmin, arg: parsed.arg, query });
      }
    }
  }
}
