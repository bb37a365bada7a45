// Owns one logged-in admin console client: the simple query protocol (Query in; RowDescription,
// DataRow, CommandComplete or ErrorResponse, then ReadyForQuery out), one command at a time.
// A command that waits (PAUSE, SUSPEND, WAIT_CLOSE) holds the queries sent after it until it
// is answered, as psql and scripts expect.

import { FrontendCode } from '../protocol/codes';
import { Framer } from '../protocol/framer';
import { FrameLimits, showType, SMALL_MESSAGE_LIMIT, LARGE_MESSAGE_LIMIT } from '../protocol/limits';
import { decodeQuery } from '../protocol/frontend';
import { backendKeyData, errorResponse, parameterStatus, READY_IDLE, type ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import * as errors from './errors';
import type { ConsolePeer, ConsoleSession } from '../client/console-gate';
import type { Reply } from './commands';

/**
 * The welcome PgBouncer 1.18 gives console clients, in its order: the console's fixed set
 * (admin.c admin_setup), then its client variables, client_encoding always UTF8 and the others
 * only as the client's startup packet set them.
 */
const WELCOME_PARAMS: readonly [string, string][] = [
  ['server_version', '1.18.0/bouncer'],
  ['client_encoding', 'UTF8'],
  ['server_encoding', 'UTF8'],
  ['DateStyle', 'ISO'],
  ['TimeZone', 'GMT'],
  ['standard_conforming_strings', 'on'],
  ['is_superuser', 'on'],
  ['client_encoding', 'UTF8'],
];
const ECHOED_PARAMS = ['DateStyle', 'TimeZone', 'standard_conforming_strings', 'application_name'];

/**
 * The console reads Query and Terminate only, each refused at its header otherwise: a Query
 * longer than 64 KiB (console commands are a line; PgBouncer's bound is its packet buffer), any
 * other type. Nothing a console client declares is waited for beyond that.
 */
const CONSOLE_LIMITS = new FrameLimits(
  new Map([
    [FrontendCode.Query, LARGE_MESSAGE_LIMIT],
    [FrontendCode.Terminate, SMALL_MESSAGE_LIMIT],
  ]),
  { name: "the admin console's limit", value: 65536 },
  (type) => `unsupported packet type for admin console: ${showType(type)}`,
);

/** Extended-protocol messages: the console says so rather than "unsupported packet type". */
const EXTENDED = new Set<number>([FrontendCode.Parse, FrontendCode.Bind, FrontendCode.Execute, FrontendCode.Describe, FrontendCode.Sync]);

/** What a session needs from the console. */
export interface SessionHost {
  execute(session: Session, query: string): Promise<Reply>;
  sessionClosed(session: Session): void;
}

export class Session implements ConsoleSession {
  private readonly framer: Framer;
  private readonly queue: string[] = [];
  private running = false;
  private gone = false;

  constructor(
    readonly client: ConsolePeer,
    private readonly host: SessionHost,
    /** admin_users member (or pgmux's own OS user over the unix socket); else stats_users. */
    readonly isAdmin: boolean,
  ) {
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), CONSOLE_LIMITS);
  }

  welcome(): void {
    const out = WELCOME_PARAMS.map(([name, value]) => parameterStatus(name, value));
    for (const name of ECHOED_PARAMS) {
      const value = this.client.params.get(name);
      if (value !== undefined) out.push(parameterStatus(name, value));
    }
    out.push(backendKeyData(this.client.cancelKey.pid, this.client.cancelKey.secret), READY_IDLE);
    this.client.sendToClient(Buffer.concat(out));
  }

  feed(chunk: Buffer): void {
    const fault = this.framer.feed(chunk);
    if (fault !== null) this.refuse(EXTENDED.has(fault.type) ? errors.extendedProtocol() : refusals.protocolViolation(fault.reason));
  }

  closed(): void {
    if (this.gone) return;
    this.gone = true;
    this.queue.length = 0;
    this.host.sessionClosed(this);
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.gone) return;
    switch (type) {
      case FrontendCode.Query: {
        const q = decodeQuery(buf, start, end);
        if (q.kind === 'invalid') {
          this.refuse(refusals.protocolViolation(q.reason));
          return;
        }
        this.queue.push(q.sql);
        void this.pump();
        return;
      }
      default:
        // Terminate: the only other type CONSOLE_LIMITS lets through.
        this.framer.halt();
        this.client.close('client close request');
    }
  }

  /** Answers queued queries in order; a waiting command holds the rest. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0 && !this.gone) {
      const query = this.queue.shift() as string;
      const reply = await this.host.execute(this, query);
      if (this.gone || reply === null) continue;
      const frames = Array.isArray(reply) ? reply : [errorResponse(reply)];
      this.client.sendToClient(Buffer.concat([...frames, READY_IDLE]));
    }
    this.running = false;
  }

  /**
   * An error that ends the session (PgBouncer: admin_error, then disconnect "bad packet"): FATAL,
   * since the connection closes after it.
   */
  private refuse(error: ErrorFields): void {
    this.framer.halt();
    this.client.sendToClient(errorResponse({ ...error, severity: 'FATAL' }));
    this.client.close(error.message, true);
  }
}
