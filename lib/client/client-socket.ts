// Owns a client's connection below net.Socket: the libuv handle node accepted (TCP, or a pipe for
// a unix-socket client) is held as it is, so a client costs its handle and this small object, not
// a net.Socket with its Readable and Writable state and listener table. Reading (into one buffer
// shared by every plain client, through ../handle-read), writing (straight to the handle,
// ../direct-write), half-close, close and errors are all here, and reach the connection through
// SocketOwner.
//
// What a client gets from a read is a copy of the bytes, never a view of the shared buffer: a
// client keeps chunks past its read (queued while waiting for a server, a request kept for a
// resend, a held prepared batch, a write its server has not taken yet), and the next read of any
// client overwrites the shared buffer.
//
// A TLS client gets a net.Socket made on its handle when it upgrades (lib/auth/tls wraps that in
// a TLSSocket, whose events reach the connection through ./socket-events); from then on this
// object speaks through the TLSSocket.

import * as net from 'node:net';
import type * as tls from 'node:tls';
import { getSystemErrorName } from 'node:util';
import { clock } from '../clock';
import { handleWrite, pendingBytes, systemError, writeDirect, type StreamHandle, type WriteReq } from '../direct-write';
import { letGo, readBelow, startReading, stopReading, type HandleReader, type ReadHandle } from '../handle-read';
import type { SocketOwner } from './socket-events';

/** What node reads at once by default. */
const READ_BUFFER_SIZE = 64 * 1024;

/** Where every plain client's reads land (useUserBuffer): one for the process. */
const shared = Buffer.allocUnsafe(READ_BUFFER_SIZE);

/** Pending bytes at which a write reports the client full (net.Socket's default high-water mark): the caller pauses its source until onDrain. */
export const CLIENT_HIGH_WATER_MARK = 16 * 1024;

/** node's ShutdownWrap: the request a handle's shutdown (our FIN, after pending writes) completes. */
interface ShutdownReq {
  oncomplete: ((this: ShutdownReq, status: number) => void) | null;
  handle: ClientHandle | null;
}

export interface Address {
  address?: string;
  port?: number;
}

/** How logs and SHOW CLIENTS name a client's peer: address:port, or unix. */
export function remoteOf(peer: Address): string {
  return peer.address === undefined ? 'unix' : `${peer.address.replace(/^::ffff:/, '')}:${peer.port}`;
}

const SOCKET = Symbol('pgmux.clientSocket');

/** The part of an accepted libuv stream handle (TCPWrap, PipeWrap) used here. */
interface ClientHandle extends StreamHandle, ReadHandle {
  shutdown(req: ShutdownReq): number;
  close(done: (this: ClientHandle) => void): void;
  readonly bytesRead: number;
  readonly fd: number;
  /** TCP only. */
  getpeername?(out: Address): number;
  getsockname?(out: Address): number;
  setNoDelay?(enable: boolean): number;
  setKeepAlive?(enable: boolean, delaySeconds: number): number;
  [SOCKET]?: ClientSocket;
}

interface StreamWrapBinding {
  ShutdownWrap: new () => ShutdownReq;
}

interface UvBinding {
  UV_ENOTCONN: number;
}

// The bindings net.Socket itself shuts down through; both are on node's allow list for
// process.binding, and node >= 20 is required (package.json engines).
const internal = process as unknown as { binding(name: 'stream_wrap'): StreamWrapBinding; binding(name: 'uv'): UvBinding };
const { ShutdownWrap } = internal.binding('stream_wrap');
const { UV_ENOTCONN } = internal.binding('uv');

// States, as bits.
/** readStart was called and not undone. */
const READING = 1;
/** The client's FIN was read. */
const EOF = 2;
/** Our FIN was asked for (end): reads after it are dropped. */
const ENDING = 4;
/** Our FIN went out. */
const ENDED = 8;
/** The handle is closing or closed. */
const CLOSED = 16;
/** The handle belongs to a net.Socket now (TLS): reads, writes and close go through `tls`. */
const STREAMED = 32;

function onWriteDone(this: WriteReq, status: number): void {
  const socket = this.owner as ClientSocket;
  this.buffer = null;
  this.owner = null;
  socket.writeDone(status);
}

function onShutdown(this: ShutdownReq, status: number): void {
  const socket = (this.handle as ClientHandle)[SOCKET] as ClientSocket;
  this.handle = null;
  socket.shutDown(status);
}

function onClosed(this: ClientHandle): void {
  (this[SOCKET] as ClientSocket).closed();
}

function failSocket(socket: ClientSocket, err: NodeJS.ErrnoException): void {
  socket.fail(err);
}

export class ClientSocket implements HandleReader {
  /** Where its events go; null until attach. */
  private owner: SocketOwner | null = null;
  /** The TLSSocket it speaks through after an upgrade, else null. */
  tls: tls.TLSSocket | null = null;
  private state = 0;
  /** This module's writes still pending in libuv. */
  private pending = 0;

  constructor(private readonly handle: ClientHandle) {
    handle[SOCKET] = this;
    readBelow(handle, this, shared);
  }

  /** Starts reading; `owner` hears everything from now on. */
  attach(owner: SocketOwner): void {
    this.owner = owner;
    this.resume();
  }

  // ---- reading ----

  pause(): void {
    if (this.tls !== null) this.tls.pause();
    else if ((this.state & READING) !== 0) {
      this.state &= ~READING;
      stopReading(this.handle);
    }
  }

  resume(): void {
    if (this.tls !== null) {
      this.tls.resume();
      return;
    }
    if ((this.state & (READING | EOF | CLOSED | STREAMED)) !== 0 || this.owner === null) return;
    this.state |= READING;
    const err = startReading(this.handle);
    if (err !== null) process.nextTick(failSocket, this, err);
  }

  /** HandleReader: `length` bytes are in the shared buffer, which the next read reuses. */
  received(length: number): undefined {
    // Ending or closed: what the client still sends is not for anyone (its connection is closed).
    if ((this.state & (ENDING | CLOSED)) !== 0) return undefined;
    // What this read starts (a wait, a request, an idle spell) is stamped with this reading.
    clock.tick();
    const chunk = Buffer.allocUnsafe(length);
    shared.copy(chunk, 0, 0, length);
    (this.owner as SocketOwner).onData(chunk);
    return undefined;
  }

  /** HandleReader: the client's FIN (`err` null), or a read error. libuv stops reading either way. */
  readEnded(err: NodeJS.ErrnoException | null): void {
    this.state = (this.state | EOF) & ~READING;
    if (err !== null) this.fail(err);
    // Both FINs are out: nothing more can happen on this connection.
    else if ((this.state & ENDED) !== 0) this.destroy();
    else if ((this.state & (ENDING | CLOSED)) === 0) (this.owner as SocketOwner).onEnd();
  }

  // ---- writing ----

  /** Writes `bytes`; false when the client is full now (the caller pauses what feeds it until onDrain). */
  write(bytes: Buffer): boolean {
    if (this.tls !== null) return this.tls.write(bytes);
    return this.forward(bytes) < CLIENT_HIGH_WATER_MARK;
  }

  /**
   * Writes `bytes` below the stream: 0 when the kernel took them all (`bytes` is no longer
   * referenced), else how many bytes are pending; at or past CLIENT_HIGH_WATER_MARK the caller
   * pauses its source, and onDrain follows for sure.
   */
  forward(bytes: Buffer): number {
    if (this.tls !== null) return writeDirect(this.tls, bytes);
    // After end() or destroy(): dropped, as net.Socket drops a write after its end.
    if ((this.state & (ENDING | CLOSED)) !== 0) return 0;
    const handle = this.handle;
    const result = handleWrite(handle, bytes, this, onWriteDone);
    if (result === 0) return 0;
    if (result < 0) {
      // Told after the caller's turn, as net.Socket does: the caller is in the middle of something.
      process.nextTick(failSocket, this, systemError(result, 'write'));
      this.state |= ENDING;
      return 0;
    }
    this.pending++;
    return Math.max(1, handle.writeQueueSize);
  }

  /** A write that went async is done (onWriteDone). */
  writeDone(status: number): void {
    this.pending--;
    if (status < 0) this.fail(systemError(status, 'write'));
    else if (this.pending === 0 && (this.state & CLOSED) === 0) (this.owner as SocketOwner).onDrain();
  }

  /** Bytes written that the kernel has not taken yet. */
  get writableLength(): number {
    if (this.tls !== null) return pendingBytes(this.tls);
    return (this.state & CLOSED) !== 0 ? 0 : this.handle.writeQueueSize;
  }

  // ---- ending ----

  /** Sends FIN once what was written has gone; the connection closes once the client's FIN is in too. */
  end(): void {
    if (this.tls !== null) {
      this.tls.end();
      return;
    }
    if ((this.state & (ENDING | CLOSED)) !== 0) return;
    this.state |= ENDING;
    const req = new ShutdownWrap();
    req.oncomplete = onShutdown;
    req.handle = this.handle;
    const err = this.handle.shutdown(req);
    // 1: done at once (nothing pending), as net.Socket reads it.
    if (err === 1 || err === UV_ENOTCONN) this.shutDown(0);
    else if (err !== 0) process.nextTick(failSocket, this, systemError(err, 'shutdown'));
  }

  /** Our FIN went out (onShutdown, or end at once). */
  shutDown(status: number): void {
    if (status < 0 && status !== UV_ENOTCONN) {
      this.fail(systemError(status, 'shutdown'));
      return;
    }
    this.state |= ENDED;
    if ((this.state & EOF) !== 0) this.destroy();
  }

  /** Closes the connection now; what was not written yet is dropped. */
  destroy(): void {
    if (this.tls !== null) {
      this.tls.destroy();
      return;
    }
    if ((this.state & CLOSED) !== 0) return;
    this.state = (this.state | CLOSED) & ~READING;
    this.handle.close(onClosed);
  }

  /** The connection failed: its owner hears why, then it is closed. */
  fail(err: NodeJS.ErrnoException): void {
    if ((this.state & CLOSED) !== 0) return;
    (this.owner as SocketOwner).onError(err);
    this.destroy();
  }

  /** onClosed: the handle is closed. */
  closed(): void {
    this.owner?.onClose();
  }

  /** Whether the connection is closed or closing. */
  get destroyed(): boolean {
    return this.tls !== null ? this.tls.destroyed : (this.state & CLOSED) !== 0;
  }

  // ---- TLS, and handing the connection over ----

  /**
   * The handle as a net.Socket, for TLS to wrap (lib/auth/tls acceptTls); `useTls` then tells
   * this object which TLSSocket to speak through. Nothing is read here any more.
   */
  streamForTls(): net.Socket {
    this.pause();
    this.state |= STREAMED;
    // allowHalfOpen as every client connection: a FIN must not end our side before a truncated message is answered.
    return new net.Socket({ handle: this.handle, allowHalfOpen: true, readable: true, writable: true } as net.SocketConstructorOpts);
  }

  useTls(secure: tls.TLSSocket): void {
    this.tls = secure;
  }

  /**
   * The handle, for sending the connection to another process (process.send(message, handle):
   * node sends a TCP handle as 'net.Native'; spec/client/client-socket-detach.spec.ts); this
   * object lets go of it and its owner hears nothing more. This process's copy stays open until
   * the caller closes it. Only for another process: in this one the handle still reads into the
   * shared buffer. Null when it cannot go: TLS (its session state stays here), ending or closed,
   * the client's FIN already read, or writes still pending.
   */
  detach(): object | null {
    if (this.tls !== null || (this.state & (ENDING | CLOSED | EOF)) !== 0 || this.pending !== 0) return null;
    this.pause();
    this.state |= STREAMED | CLOSED;
    letGo(this.handle);
    this.handle[SOCKET] = undefined;
    this.owner = null;
    return this.handle;
  }

  // ---- what the rest of pgmux asks of a client connection ----

  /** The client's address and port (not kept: asked at accept, by hba, SHOW CLIENTS); {} for a unix socket or once closed. */
  remoteEnd(): Address {
    return this.peer('getpeername');
  }

  get remoteAddress(): string | undefined {
    return this.peer('getpeername').address;
  }

  get remotePort(): number | undefined {
    return this.peer('getpeername').port;
  }

  get localAddress(): string | undefined {
    return this.peer('getsockname').address;
  }

  get localPort(): number | undefined {
    return this.peer('getsockname').port;
  }

  /** Bytes read from the connection so far (before TLS: of the raw connection). */
  get bytesRead(): number {
    return this.handle.bytesRead;
  }

  /** The file descriptor, or null (closed). */
  get fd(): number | null {
    const fd = this.handle.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** TCP_NODELAY and keepalive on this connection (a TCP one; a unix socket has neither). */
  setTcpOptions(options: ClientTcpOptions): void {
    this.handle.setNoDelay?.(true);
    if (options.keepAlive) this.handle.setKeepAlive?.(true, options.keepIdleSeconds);
  }

  private peer(which: 'getpeername' | 'getsockname'): Address {
    const out: Address = {};
    this.handle[which]?.(out);
    return out;
  }
}

/** The part of a listening net.Server's handle used here: node calls onconnection per accepted connection. */
interface ListenHandle {
  onconnection: (err: number, clientHandle: ClientHandle | undefined) => void;
  /** A TCP listening socket's (a pipe's has neither, nor has the stand-in node:cluster's round-robin gives a worker). */
  setNoDelay?(enable: boolean): number;
  setKeepAlive?(enable: boolean, delaySeconds: number): number;
}

/** The TCP options every client connection gets: TCP_NODELAY always, keepalive as tcp_keepalive and tcp_keepidle say. */
export interface ClientTcpOptions {
  readonly keepAlive: boolean;
  /** TCP_KEEPIDLE in seconds; 0 leaves the system's (node's call then fails on it, after SO_KEEPALIVE is set, as PgBouncer leaves it). */
  readonly keepIdleSeconds: number;
}

const NO_KEEPALIVE: ClientTcpOptions = { keepAlive: false, keepIdleSeconds: 0 };

/** A listener of clients: its TCP options can change (RELOAD of tcp_keepalive, tcp_keepidle) for connections accepted from then on. */
export interface ClientListener {
  setTcpOptions(options: ClientTcpOptions): void;
}

/**
 * From now on, every connection `server` accepts reaches `accept` as a ClientSocket on the
 * accepted handle: the listening handle's onconnection is taken over, so no net.Socket is made.
 * Call it once the server listens (its handle exists).
 *
 * On Linux a TCP connection inherits TCP_NODELAY and the keepalive options of the socket that
 * accepted it, so those are set once on the listening socket rather than with two or three
 * setsockopt calls per connection (a fifth of pgmux's system calls under pgbench -C). Elsewhere,
 * and in a node:cluster round-robin worker (whose listening handle is a stand-in with no socket),
 * each connection gets them.
 */
export function acceptClients(server: net.Server, accept: (socket: ClientSocket) => void, options: ClientTcpOptions = NO_KEEPALIVE): ClientListener {
  const handle = (server as net.Server & { _handle: ListenHandle | null })._handle;
  if (handle === null) throw new Error('acceptClients: the server is not listening');
  const inherited = process.platform === 'linux' && typeof handle.setNoDelay === 'function' && typeof handle.setKeepAlive === 'function';
  /** What each connection is given itself (not inherited), else null. */
  let perConnection: ClientTcpOptions | null = null;
  const listener: ClientListener = {
    setTcpOptions(o: ClientTcpOptions): void {
      if (!inherited) {
        perConnection = o;
        return;
      }
      handle.setNoDelay?.(true);
      handle.setKeepAlive?.(o.keepAlive, o.keepIdleSeconds);
    },
  };
  listener.setTcpOptions(options);
  handle.onconnection = (err: number, clientHandle: ClientHandle | undefined): void => {
    if (err !== 0 || clientHandle === undefined) {
      // EMFILE and the like: node's own accept logs nothing either; the listener stays open.
      server.emit('error', new Error(`accept failed: ${getSystemErrorName(err)}`));
      return;
    }
    const socket = new ClientSocket(clientHandle);
    if (perConnection !== null) socket.setTcpOptions(perConnection);
    accept(socket);
  };
  return listener;
}
