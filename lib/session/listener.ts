// Owns one listener connection: the dedicated server connection of a (database, user) that
// LISTENs on its clients' channels in transaction pooling (./channels). It connects through the
// database primary's dialer (lib/failover: server TLS applies), logs in with ServerLogin, runs
// LISTEN/UNLISTEN one simple query at a time, and hands every NotificationResponse on as its
// bytes. It serves no client and forwards nothing else.

import type * as net from 'node:net';
import type { Connect, ConnectEvents, PendingConnect } from '../connect';
import { BackendCode } from '../protocol/codes';
import { Framer } from '../protocol/framer';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields, type ErrorFields } from '../protocol/backend';
import { query, startupMessage, terminate } from '../protocol/frontend';
import { ServerLogin, type ServerCredential } from '../auth/server-login';

/** Who the listener logs in as, where. */
export interface ListenerLogin {
  readonly user: string;
  readonly database: string;
  readonly credential: ServerCredential;
}

/** What a listener connection tells its hub. */
export interface ListenerEvents {
  /** Logged in: commands may be sent. */
  listenerReady(listener: ListenerConnection): void;
  /** A NotificationResponse frame, exactly as the server sent it (a copy the hub may keep). */
  notification(frame: Buffer, channel: string): void;
  /** The connection is gone (refused, login failed, lost, or closed by the hub), once. `error` is the server's when it said why. */
  listenerClosed(listener: ListenerConnection, reason: string, error: ErrorFields | null): void;
}

/** What pg_stat_activity shows for it, so an operator knows what the connection is. */
export const LISTENER_APPLICATION_NAME = 'pgmux listener';

/** A notification payload is at most 8000 bytes; nothing the listener receives comes near this. */
const LIMITS = anyTypeLimits(1 << 20, 'the limit for listener messages');

/** A command sent and the callback for its answer (null: ok, else the server's error message). */
interface Sent {
  readonly done: ((error: string | null) => void) | null;
}

export class ListenerConnection implements ConnectEvents {
  private socket: net.Socket | null = null;
  private dial: PendingConnect | null;
  private readonly framer: Framer;
  private login: ServerLogin | null;
  private readonly sent: Sent[] = [];
  private error: string | null = null;
  private closed = false;
  /** The server's backend pid (pg_terminate_backend in specs; the log). */
  pid = 0;

  constructor(
    connect: Connect,
    private readonly who: ListenerLogin,
    private readonly events: ListenerEvents,
  ) {
    this.login = new ServerLogin(who.user, who.credential);
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), LIMITS);
    this.dial = connect(this);
  }

  /** ConnectEvents: up (after TLS when server_tls_sslmode asks for it): log in. */
  connected(socket: net.Socket): void {
    this.dial = null;
    this.socket = socket;
    socket.setKeepAlive(true);
    socket.on('data', (chunk: Buffer) => {
      const fault = this.framer.feed(chunk);
      if (fault !== null) this.close(`bad message from server: ${fault.reason}`);
    });
    socket.on('error', (err: Error) => this.close(`connection error: ${err.message}`));
    socket.on('close', () => this.close('server closed the connection'));
    socket.write(startupMessage({ user: this.who.user, database: this.who.database, application_name: LISTENER_APPLICATION_NAME }));
  }

  /** ConnectEvents. */
  connectFailed(reason: string): void {
    this.dial = null;
    this.close(reason);
  }

  get ready(): boolean {
    return this.login === null && !this.closed;
  }

  /** Sends one simple query (LISTEN/UNLISTEN statements); `done` hears how it went, in order. */
  send(sql: string, done: ((error: string | null) => void) | null): void {
    if (!this.ready) throw new Error('ListenerConnection.send: not logged in');
    this.sent.push({ done });
    (this.socket as net.Socket).write(query(sql));
  }

  /** Ends the connection (politely once logged in); the hub hears listenerClosed once. */
  close(reason: string, error: ErrorFields | null = null): void {
    if (this.closed) return;
    this.closed = true;
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
    for (const s of this.sent.splice(0)) s.done?.(reason);
    this.events.listenerClosed(this, reason, error);
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return;
    const login = this.login;
    if (login !== null) {
      const step = login.onFrame(type, buf, start, end);
      if (step.kind === 'send') this.socket?.write(step.bytes);
      else if (step.kind === 'failed') this.close(`login failed: ${step.error.message}`, step.error);
      else if (step.kind === 'done') {
        this.login = null;
        this.pid = step.pid;
        this.events.listenerReady(this);
      }
      return;
    }
    switch (type) {
      case BackendCode.NotificationResponse: {
        // Int32 pid, channel, payload: the channel is all the hub needs to read.
        const from = start + 9;
        const nul = buf.indexOf(0, from);
        if (nul < 0 || nul >= end) {
          this.close('malformed NotificationResponse from server');
          return;
        }
        this.events.notification(Buffer.from(buf.subarray(start, end)), buf.toString('utf8', from, nul));
        return;
      }
      case BackendCode.ErrorResponse: {
        const fields = decodeErrorFields(buf, start, end);
        const message = fields.kind === 'invalid' ? fields.reason : fields.message;
        // A FATAL, or an error with no command running, is the server going away (terminated, shut down).
        if (this.sent.length === 0 || (fields.kind !== 'invalid' && fields.severity === 'FATAL')) this.close(`server error: ${message}`, fields.kind === 'invalid' ? null : fields);
        else this.error ??= message;
        return;
      }
      case BackendCode.ReadyForQuery: {
        const s = this.sent.shift();
        const error = this.error;
        this.error = null;
        s?.done?.(error);
        return;
      }
      default:
        // CommandComplete, NoticeResponse, ParameterStatus: nothing the hub needs.
        return;
    }
  }
}

/** A channel name as a quoted identifier, for the listener's LISTEN/UNLISTEN. */
export function quoteChannel(channel: string): string {
  return `"${channel.replace(/"/g, '""')}"`;
}
