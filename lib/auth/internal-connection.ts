// Owns what every connection pgmux opens for itself has in common (the health probe and
// volatility lookup in lib/routing/monitor, the LISTEN/NOTIFY listener in lib/session/listener):
// connect through a node's dialer (so server TLS applies), send the startup packet, log in with
// ServerLogin (cleartext, md5, SCRAM), frame what the server sends, and end once, politely when
// logged in. What happens after login is the subclass's (afterLogin, frame).

import type * as net from 'node:net';
import type { Connect, ConnectEvents, PendingConnect } from '../connect';
import { Framer } from '../protocol/framer';
import type { FrameLimits } from '../protocol/limits';
import type { ErrorFields } from '../protocol/backend';
import { query, startupMessage, terminate } from '../protocol/frontend';
import { ServerLogin, type ServerCredential } from './server-login';

/** Who an internal connection logs in as, where. */
export interface InternalLogin {
  readonly user: string;
  readonly database: string;
  readonly credential: ServerCredential;
}

/** How an internal connection presents itself and what it accepts. */
export interface InternalConnectionOptions {
  /** What pg_stat_activity shows, so an operator knows what the connection is. */
  readonly applicationName: string;
  /** Frames past these are not PostgreSQL talking: the connection ends. */
  readonly limits: FrameLimits;
  /** TCP keepalive, for a connection that may sit idle for long (the listener). */
  readonly keepAlive?: boolean;
}

export abstract class InternalConnection implements ConnectEvents {
  private socket: net.Socket | null = null;
  private dial: PendingConnect | null;
  private readonly framer: Framer;
  private login: ServerLogin | null;
  private ended = false;
  /** The server's refusal when login failed (its SQLSTATE tells a bad password from a server starting up). */
  loginError: ErrorFields | null = null;
  /** The server's backend pid, once logged in (the log; pg_terminate_backend in specs). */
  pid = 0;
  /** The ParameterStatus set the server sent at login (empty before). */
  loginParams: ReadonlyMap<string, string> = new Map();

  constructor(
    connect: Connect,
    private readonly who: InternalLogin,
    private readonly options: InternalConnectionOptions,
  ) {
    this.login = new ServerLogin(who.user, who.credential);
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), options.limits);
    this.dial = connect(this);
  }

  /** ConnectEvents: up (after TLS when server_tls_sslmode asks for it): log in. */
  connected(socket: net.Socket): void {
    this.dial = null;
    this.socket = socket;
    if (this.options.keepAlive === true) socket.setKeepAlive(true);
    socket.on('data', (chunk: Buffer) => {
      const fault = this.framer.feed(chunk);
      if (fault !== null) this.close(`bad message from server: ${fault.reason}`);
    });
    socket.on('error', (err: Error) => this.close(`connection error: ${err.message}`));
    socket.on('close', () => this.close('server closed the connection'));
    socket.write(startupMessage({ user: this.who.user, database: this.who.database, application_name: this.options.applicationName }));
  }

  /** ConnectEvents. */
  connectFailed(reason: string): void {
    this.dial = null;
    this.close(reason);
  }

  /** Logged in and not closed: queries may be sent. */
  get ready(): boolean {
    return this.login === null && !this.ended;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Sends one simple query (the caller checks `ready`). */
  protected sendQuery(sql: string): void {
    (this.socket as net.Socket).write(query(sql));
  }

  /** Ends the connection (politely once logged in); the subclass hears ended() once. */
  close(reason: string, error: ErrorFields | null = null): void {
    if (this.ended) return;
    this.ended = true;
    this.framer.halt();
    this.dial?.abort();
    this.dial = null;
    const socket = this.socket;
    if (socket !== null) {
      if (this.login === null && !socket.destroyed) socket.end(terminate());
      else socket.destroy();
      // A polite end may never be answered by a hung server.
      socket.setTimeout(1000, () => socket.destroy());
    }
    this.onEnded(reason, error);
  }

  /** Login finished: the connection is ready. */
  protected abstract afterLogin(): void;
  /** A frame after login, buf[start] its type byte. */
  protected abstract frame(type: number, buf: Buffer, start: number, end: number): void;
  /** The connection is gone (refused, login failed, lost, or closed by its owner), once. */
  protected abstract onEnded(reason: string, error: ErrorFields | null): void;

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.ended) return;
    const login = this.login;
    if (login === null) {
      this.frame(type, buf, start, end);
      return;
    }
    const step = login.onFrame(type, buf, start, end);
    if (step.kind === 'send') this.socket?.write(step.bytes);
    else if (step.kind === 'failed') {
      this.loginError = step.error;
      this.close(`login failed: ${step.error.message}`, step.error);
    } else if (step.kind === 'done') {
      this.loginParams = login.params;
      this.login = null;
      this.pid = step.pid;
      this.afterLogin();
    }
  }
}
