// Owns one listener connection: the dedicated server connection of a (database, user) that
// LISTENs on its clients' channels in transaction pooling (./channels). It connects through the
// database primary's dialer and logs in as every internal connection does
// (lib/auth/internal-connection), runs LISTEN/UNLISTEN one simple query at a time, and hands
// every NotificationResponse on as its bytes. It serves no client and forwards nothing else.

import type { Connect } from '../connect';
import { BackendCode } from '../protocol/codes';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields, type ErrorFields } from '../protocol/backend';
import { InternalConnection, type InternalLogin } from '../auth/internal-connection';

/** Who the listener logs in as, where. */
export type ListenerLogin = InternalLogin;

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

/** A notification payload is at most 8000 bytes; nothing the listener receives comes near this. It may sit idle for long: keepalive. */
const OPTIONS = { applicationName: LISTENER_APPLICATION_NAME, limits: anyTypeLimits(1 << 20, 'the limit for listener messages'), keepAlive: true };

/** A command sent and the callback for its answer (null: ok, else the server's error message). */
interface Sent {
  readonly done: ((error: string | null) => void) | null;
}

export class ListenerConnection extends InternalConnection {
  private readonly sent: Sent[] = [];
  private error: string | null = null;

  constructor(
    connect: Connect,
    who: ListenerLogin,
    private readonly events: ListenerEvents,
  ) {
    super(connect, who, OPTIONS);
  }

  /** Sends one simple query (LISTEN/UNLISTEN statements); `done` hears how it went, in order. */
  send(sql: string, done: ((error: string | null) => void) | null): void {
    if (!this.ready) throw new Error('ListenerConnection.send: not logged in');
    this.sent.push({ done });
    this.sendQuery(sql);
  }

  protected afterLogin(): void {
    this.events.listenerReady(this);
  }

  protected onEnded(reason: string, error: ErrorFields | null): void {
    for (const s of this.sent.splice(0)) s.done?.(reason);
    this.events.listenerClosed(this, reason, error);
  }

  protected frame(type: number, buf: Buffer, start: number, end: number): void {
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
