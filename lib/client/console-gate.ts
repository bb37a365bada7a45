// Owns the narrow interface between a client connection and the admin console: a login to
// database "pgbouncer" asks the gate who may enter, and once in, the client hands its bytes to
// a console session instead of a pool.

import type { ErrorFields } from '../protocol/backend';
import type { LogSubject } from '../log';
import type { RequestTiming } from '../metrics/counters';
import type { ClientConnection } from './client-connection';
import type { ClientSocket } from './client-socket';

/** The client side of a console session, as the console sees it (ClientConnection). */
export interface ConsolePeer extends LogSubject {
  readonly id: number;
  readonly user: string;
  readonly socket: ClientSocket;
  readonly timing: RequestTiming;
  /** Tracked parameters from the startup packet (canonical names). */
  readonly params: ReadonlyMap<string, string>;
  cancelKey: { pid: number; secret: number };
  sendToClient(bytes: Buffer): boolean;
  close(reason: string, flush?: boolean): void;
}

/** A logged-in console client's handler. */
export interface ConsoleSession {
  /** Bytes the client sent after its login. */
  feed(chunk: Buffer): void;
  /** The client connection is gone. */
  closed(): void;
}

export interface ConsoleGate {
  /**
   * Before authentication: calls `done(true)` when the login needs no password (a unix-socket
   * login as user pgbouncer by the OS user running pgmux, PgBouncer's rule), else `done(false)`.
   */
  preLogin(client: ClientConnection, done: (trusted: boolean) => void): void;
  /** After authentication: the session (welcome already sent), or the refusal to send. */
  open(client: ClientConnection): ConsoleSession | ErrorFields;
}

/** A gate that lets nobody in: the registry's until pgmux wires up the real console. */
export const CLOSED_CONSOLE: ConsoleGate = {
  preLogin: (_client, done) => done(false),
  open: () => ({ severity: 'FATAL', code: '28000', message: 'not allowed' }),
};

export function isSession(x: ConsoleSession | ErrorFields): x is ConsoleSession {
  return 'feed' in x;
}
