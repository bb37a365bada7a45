// Owns opening connections to one backend: a Unix socket or TCP, then TLS as server_tls_sslmode
// says (SSLRequest, 'S' -> handshake, 'N' -> plain text where the mode allows), and an optional
// connect timeout. Every connection pgmux opens to PostgreSQL comes from here: pooled servers,
// health probes, auth_query lookups and forwarded cancels, so server_tls_* means the same for all;
// a host's ping (./ping) opens its socket here too, and never reaches TLS.

import * as net from 'node:net';
import type * as tls from 'node:tls';
import { sslRequest } from '../protocol/frontend';
import { activeTls, connectTls, describeTls, requiresTls, SslAnswer, type ServerSideTls } from '../auth/tls';
import type { Connect, ConnectEvents, PendingConnect, ReadInto } from '../connect';

/** Where a backend listens. host undefined or starting with '/' is a Unix socket directory. */
export interface BackendAddress {
  readonly host: string | undefined;
  readonly port: number;
  /** unix_socket_dir: used when host is unset, as PgBouncer does. */
  readonly unixSocketDir: string;
}

/** `host:port` (or the socket directory) as logs and SHOW views print it. */
export function addressLabel(a: BackendAddress): string {
  return `${a.host ?? a.unixSocketDir}:${a.port}`;
}

export function isUnix(a: BackendAddress): boolean {
  return a.host === undefined || a.host.startsWith('/');
}

/** A socket to the backend's address, TCP or its Unix socket (`.s.PGSQL.<port>` in the directory). */
export function openSocket(a: BackendAddress, onread?: net.OnReadOpts): net.Socket {
  return isUnix(a) ? net.connect({ path: `${a.host ?? a.unixSocketDir}/.s.PGSQL.${a.port}`, onread }) : net.connect({ host: a.host, port: a.port, onread });
}

export class Dialer {
  /** Connection attempts started, for specs and SHOW HOSTS (nothing may dial in a tight loop). */
  attempts = 0;

  constructor(
    readonly address: BackendAddress,
    /** The applied server-side TLS, read at each attempt so a RELOAD's settings apply to the next one. */
    private readonly tlsSide: () => ServerSideTls = () => activeTls().server,
    /** Milliseconds for TCP and TLS together; 0: none (the caller times its whole login). */
    private readonly timeoutMs: () => number = () => 0,
  ) {}

  readonly connect: Connect = (events: ConnectEvents, readInto?: ReadInto): PendingConnect => {
    this.attempts++;
    // Over a Unix socket TLS is never asked for, as PgBouncer.
    const side = isUnix(this.address) ? null : this.tlsSide();
    return new Dial(this.address, side !== null && side.context !== null ? side : null, events, readInto, this.timeoutMs());
  };
}

/** One attempt: TCP, then the SSLRequest exchange and the handshake when TLS is configured. */
class Dial implements PendingConnect {
  readonly socket: net.Socket;
  private current: net.Socket;
  /** tcp: connecting; answer: SSLRequest sent; tls: handshaking; done: handed over (or failed). */
  private phase: 'tcp' | 'answer' | 'tls' | 'done' = 'tcp';
  private timer: NodeJS.Timeout | null = null;
  private readonly onError = (err: Error): void => this.fail(this.phase === 'tcp' ? connectError(err) : `server connection error: ${err.message}`);
  private readonly onClose = (): void => this.fail('server closed the connection');
  private readonly onAnswerData = (chunk: Buffer): void => this.answer(chunk);
  private readonly onTlsError = (err: Error): void => this.fail(`server TLS handshake failed: ${err.message}`);

  constructor(
    private readonly address: BackendAddress,
    private readonly tlsSide: ServerSideTls | null,
    private readonly events: ConnectEvents,
    readInto: ReadInto | undefined,
    timeoutMs: number,
  ) {
    // With onread the socket never emits 'data': the SSL answer comes through the same callback.
    const onread =
      readInto === undefined
        ? undefined
        : {
            buffer: () => readInto.buffer(),
            callback: (length: number, buf: Buffer): boolean => {
              if (this.phase === 'answer') {
                this.answer(buf.subarray(0, length));
                return true;
              }
              return readInto.callback(length, buf);
            },
          };
    this.socket = openSocket(address, onread);
    this.current = this.socket;
    this.socket.setNoDelay(true);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.once('connect', () => this.tcpUp(readInto === undefined));
    if (timeoutMs > 0) this.timer = setTimeout(() => this.fail(`connect timed out after ${timeoutMs} ms`), timeoutMs);
  }

  abort(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.clearTimer();
    this.detach(this.current);
    // An error after this must not crash the process: nobody else listens yet.
    this.current.on('error', () => undefined);
    this.current.destroy();
  }

  private tcpUp(listenForAnswer: boolean): void {
    if (this.phase !== 'tcp') return;
    if (this.tlsSide === null) {
      this.handOver(this.socket, '');
      return;
    }
    this.phase = 'answer';
    if (listenForAnswer) this.socket.on('data', this.onAnswerData);
    this.socket.write(sslRequest());
  }

  /** The one-byte answer to the SSLRequest: 'S' starts TLS, 'N' goes on in plain text if the mode allows. */
  private answer(chunk: Buffer): void {
    if (this.phase !== 'answer') return;
    const side = this.tlsSide as ServerSideTls;
    this.socket.off('data', this.onAnswerData);
    // Like libpq and PgBouncer: bytes behind the answer were not encrypted, maybe not the server's.
    if (chunk.length > 1) return this.fail('received unencrypted data after SSL response');
    if (chunk[0] === SslAnswer.Refuse) {
      if (requiresTls(side.mode)) return this.fail(`server refused SSL (server_tls_sslmode = ${side.mode})`);
      this.handOver(this.socket, '');
      return;
    }
    if (chunk[0] !== SslAnswer.Accept) return this.fail('bad sslreq answer');
    this.phase = 'tls';
    this.detach(this.socket);
    const secure: tls.TLSSocket = connectTls(this.socket, side, this.address.host as string);
    this.current = secure;
    secure.on('error', this.onTlsError);
    secure.on('close', this.onClose);
    secure.once('secureConnect', () => this.handOver(secure, describeTls(secure)));
  }

  private handOver(socket: net.Socket, tlsInfo: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.clearTimer();
    // The owner attaches its listeners in connected(); ours go after, so an error is never unheard.
    this.events.connected(socket, tlsInfo);
    this.detach(socket);
  }

  private fail(reason: string): void {
    if (this.phase === 'done') return;
    const tls = this.phase !== 'tcp';
    this.abort();
    this.events.connectFailed(reason, tls);
  }

  private detach(socket: net.Socket): void {
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.off('data', this.onAnswerData);
    socket.off('error', this.onTlsError);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A socket error as a short reason for logs and SHOW HOSTS. */
export function connectError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOENT':
      return 'no such Unix socket';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return `connection error: ${err.message}`;
  }
}
