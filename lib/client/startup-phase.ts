// Owns a client's packets before it is logged in (PgBouncer's handle_client_startup):
// SSLRequest and GSSENCRequest, CancelRequest, the StartupMessage and its parameters, and the
// password messages that LoginAuth checks. It lives from accept to the welcome (or the admin
// console) and is then dropped with its framer and parameters, so that an idle client keeps
// nothing of its login. What the client sent behind its login is handed back in order.

import type { ClientSocket } from './client-socket';
import { FrontendCode, StartupCode } from '../protocol/codes';
import { Framer } from '../protocol/framer';
import { decodeStartup } from '../protocol/frontend';
import { startupProblem } from '../protocol/frontend/startup-prefix';
import { loginLimits } from '../protocol/limits';
import { negotiateProtocolVersion } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { ErrorFields } from '../protocol/backend';
import { ADMIN_DATABASE } from '../config';
import { plainLoginRefused } from '../auth/tls';
import { log } from '../log';
import { LoginAuth, TRUSTED, type LoginOutcome } from './login-auth';
import { decideStartup } from './startup-params';
import { answerGssRequest, answerSslRequest, isDirectTls, upgradeToTls } from './tls-upgrade';
import type { ClientConnection } from './client-connection';
import type { ClientContext } from './client-context';
import { clientLimits, frameRefusal } from './client-limits';

/**
 * Bytes held while a password is checked before the socket is paused: one longest login message
 * (PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH) plus its header.
 */
const MAX_LOGIN_FRAME = 65535 + 5;

/** Feeds the framer only what it holds already (the rest of a chunk read up to a halt). */
const EMPTY = Buffer.alloc(0);

/** A shared empty parameter set for a client whose startup packet is not read yet. */
const NO_PARAMS: ReadonlyMap<string, string> = new Map();

export class StartupPhase {
  private readonly framer: Framer;
  /** The authentication under way (state 'auth'), else null. */
  private login: LoginAuth | null = null;
  /** Tracked parameters of the StartupMessage (canonical names). */
  params: ReadonlyMap<string, string> = NO_PARAMS;
  /** The startup packet's `options` settings other than tracked parameters (lib/session/settings). */
  settings: ReadonlyMap<string, string> = NO_PARAMS;
  /** Frames pipelined behind the login while the welcome waits for the pool's parameters. */
  private early: Buffer[] | null = null;
  /**
   * AuthenticationOk (after a SASLFinal) while the pool decides at once whether to welcome the
   * client (ClientConnection.loggedIn): it then leaves in the welcome's one write. Else null.
   */
  loginAck: Buffer | null = null;
  /** The login is over (end()): bytes the framer still holds belong to the client's session. */
  private ended = false;
  /**
   * Chunks that arrived while a password was checked off the event loop (LoginAuth.checking),
   * not framed yet: the frame limit and the state they are read in depend on the outcome.
   */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** The socket was paused because `held` grew past MAX_LOGIN_FRAME (PostgreSQL reads nothing meanwhile either). */
  private heldPaused = false;

  constructor(
    private readonly client: ClientConnection,
    private readonly ctx: ClientContext,
  ) {
    // Before login only password messages are due: a declared 1 GB one is refused, not waited for.
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), loginLimits(ctx.settings.max_packet_size), true);
  }

  /** Bytes from the client while it logs in. */
  feed(chunk: Buffer): void {
    const client = this.client;
    // PostgreSQL 17 direct TLS: a ClientHello as the connection's very first bytes.
    if (client.state === 'startup' && isDirectTls(client, chunk)) {
      upgradeToTls(client, chunk);
      return;
    }
    if (this.held !== null) {
      this.hold(chunk);
      return;
    }
    const fault = this.framer.feed(chunk);
    if (fault !== null) {
      // A StartupMessage again while logging in (its first byte is 0, no message type).
      client.fail(fault.type === 0 && client.state === 'auth' ? refusals.startupResent() : frameRefusal(fault.type, fault.reason, this.ctx.settings));
      return;
    }
    // The login ended inside this feed (a welcome or console sent at once): the rest is the session's.
    if (this.ended) {
      const rest = this.framer.takeRemainder();
      if (rest !== null) client.onData(rest);
    }
  }

  /** The client sent FIN: true when it was in the middle of a packet (a truncated startup). */
  cutShort(): boolean {
    return this.framer.takeRemainder() !== null;
  }

  /**
   * The login is over (welcome sent, or console opened): no more login frames are read. Returns
   * what the client sent behind its login so far, in order; bytes of a feed still running reach
   * the client's onData when that feed returns.
   */
  end(): Buffer[] {
    this.ended = true;
    this.framer.halt();
    const out = this.early ?? [];
    const rest = this.framer.takeRemainder();
    if (rest !== null) out.push(rest);
    if (this.held !== null) {
      out.push(...this.held);
      this.held = null;
      this.unpause();
    }
    return out;
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    const client = this.client;
    if (client.state === 'closed') return;
    switch (type) {
      case StartupCode.SSLRequest:
        answerSslRequest(client, end < buf.length);
        return;
      case StartupCode.GSSENCRequest:
        answerGssRequest(client, end < buf.length);
        return;
      case StartupCode.CancelRequest: {
        const msg = decodeStartup(buf, start, end);
        if (msg?.kind === 'cancel') this.ctx.cancel(msg.pid, msg.secret);
        this.framer.halt();
        client.close('cancel request', true);
        return;
      }
      case StartupCode.Startup:
        this.framer.startupMode = false;
        if (plainLoginRefused(client.socket)) {
          client.fail(refusals.sslRequired());
          return;
        }
        this.onStartup(buf, start, end);
        return;
      case StartupCode.Invalid: {
        const problem = startupProblem(buf, start, end);
        if (problem.kind === 'version') client.fail(refusals.unsupportedProtocolVersion(problem.major, problem.minor));
        else if (problem.kind === 'typed' && problem.type === FrontendCode.Password) client.fail(refusals.passwordBeforeStartup());
        else client.fail(refusals.protocolViolation(problem.reason));
        return;
      }
      case FrontendCode.Password:
        if (client.state === 'auth' && this.login?.awaitingAnswer === true) {
          this.login.answer(buf, start, end);
          const check = this.login?.checking ?? null;
          if (check !== null) this.holdUntil(check);
          return;
        }
        client.fail(refusals.protocolViolation('password message before authentication was requested'));
        return;
      case FrontendCode.Terminate:
        client.close('client close request');
        return;
      default:
        if (client.state === 'welcome') {
          // A pipelined query before the welcome finished: keep it for when the client is idle.
          (this.early ??= []).push(Buffer.from(buf.subarray(start, end)));
          return;
        }
        client.fail(refusals.protocolViolation(`unexpected message type '${String.fromCharCode(type)}' during login`));
    }
  }

  private onStartup(buf: Buffer, start: number, end: number): void {
    const client = this.client;
    const msg = decodeStartup(buf, start, end);
    if (msg.kind !== 'startup') {
      client.fail(refusals.protocolViolation(`malformed startup packet: ${msg.kind === 'invalid' ? msg.reason : msg.kind}`));
      return;
    }
    let unknownOptions: string[] | null = null;
    for (const k of msg.params.keys()) if (k.startsWith('_pq_.')) (unknownOptions ??= []).push(k);
    if (msg.minor > 0 || unknownOptions !== null) {
      unknownOptions ??= [];
      client.socket.write(negotiateProtocolVersion(0, unknownOptions));
      for (const k of unknownOptions) msg.params.delete(k);
    }
    const decision = decideStartup(msg.params, this.ctx.tracked, this.ctx.settings.ignore_startup_parameters);
    if (!decision.ok) {
      client.fail(startupRefusal(decision.problem, decision.name));
      return;
    }
    client.user = decision.user;
    client.database = decision.database;
    if (this.ctx.settings.application_name_add_host) addClientAddress(decision.params, client.socket, this.ctx.settings.listen_port);
    this.params = decision.params;
    this.settings = decision.settings;
    // PgBouncer's order: the parameters are checked, then max_client_conn, which the console is exempt from.
    const turnedAway = client.turnedAway;
    if (turnedAway !== null) {
      if (turnedAway.code !== refusals.tooManyConnections().code || client.database !== ADMIN_DATABASE) {
        client.fail(turnedAway);
        return;
      }
      client.turnedAway = null;
      this.ctx.admitOverLimit(client);
    }
    if (this.ctx.settings.log_connections) {
      log.info(`login attempt: db=${client.database} user=${client.user} tls=${client.tlsInfo || 'no'}`, client);
    }
    if (client.database === ADMIN_DATABASE) {
      this.openConsole();
      return;
    }
    // An unknown or disabled database is refused only once the client has proven who it is
    // (lib/client/login-auth), as PgBouncer 1.18 and PostgreSQL do: before that, a client
    // without the password would learn which databases exist.
    client.setState('auth');
    this.startLogin(false);
  }

  /** Database "pgbouncer": the console's gate may waive the password, then decides who enters. */
  private openConsole(): void {
    const client = this.client;
    client.setState('auth');
    this.ctx.console.preLogin(client, (trusted) => {
      if (client.state !== 'auth') return;
      if (trusted) this.loggedIn(TRUSTED);
      else this.startLogin(true);
    });
  }

  /** Hands the login to LoginAuth: method, secret, pool and challenge (lib/client/login-auth). */
  private startLogin(forConsole: boolean): void {
    this.login = new LoginAuth(this.ctx, this.client, forConsole, (outcome) => this.loggedIn(outcome));
    this.login.start();
  }

  /**
   * The password is being checked off the event loop: what the client sends meanwhile stays
   * unread (the rest of this chunk in the framer, later chunks in `held`) and is read once the
   * outcome is known, in order: the session's after a welcome, nothing after a refusal.
   */
  private holdUntil(check: Promise<void>): void {
    this.framer.halt();
    this.held = [];
    this.heldBytes = 0;
    void check.then(() => this.release());
  }

  private hold(chunk: Buffer): void {
    (this.held as Buffer[]).push(chunk);
    this.heldBytes += chunk.length;
    // Again on every chunk past the limit: an admin RESUME may have resumed the socket meanwhile.
    if (this.heldBytes > MAX_LOGIN_FRAME) {
      this.heldPaused = true;
      this.client.socket.pause();
    }
  }

  private unpause(): void {
    if (!this.heldPaused) return;
    this.heldPaused = false;
    this.client.socket.resume();
  }

  /** The check settled (its outcome already reached the client): read what was held, unless end() took it. */
  private release(): void {
    const held = this.held;
    this.held = null;
    // Also when the client was closed meanwhile: a paused socket would never see the peer's FIN.
    this.unpause();
    if (held === null || this.ended || this.client.state === 'closed') return;
    this.feed(EMPTY);
    for (const chunk of held) this.feed(chunk);
  }

  private loggedIn(outcome: LoginOutcome): void {
    this.login = null;
    // Logged in, the client may send what PostgreSQL and max_packet_size allow, also behind its password.
    if (outcome.kind === 'ok') this.framer.limits = clientLimits(this.ctx.settings);
    this.client.loggedIn(outcome);
  }
}

/** The refusal for a StartupMessage decideStartup refused. */
function startupRefusal(problem: 'no-user' | 'unsupported', name: string): ErrorFields {
  if (problem === 'no-user') return refusals.noUser();
  return name === 'replication' ? refusals.replicationNotSupported() : refusals.unsupportedStartupParameter(name);
}

/**
 * application_name_add_host: the client's address and port after its application_name ("app"
 * when it sent none), as PgBouncer's set_appname: "psql - 10.0.0.7:50432", IPv6 in brackets,
 * "unix:6432" over the unix socket. Only at login: a later SET is left as the client wrote it.
 */
function addClientAddress(params: Map<string, string>, socket: ClientSocket, listenPort: number): void {
  const host = socket.remoteAddress;
  let details: string;
  if (host === undefined) details = `unix:${listenPort}`;
  else if (host.startsWith('::ffff:')) details = `${host.slice(7)}:${socket.remotePort}`;
  else details = host.includes(':') ? `[${host}]:${socket.remotePort}` : `${host}:${socket.remotePort}`;
  params.set('application_name', `${params.get('application_name') ?? 'app'} - ${details}`);
}
