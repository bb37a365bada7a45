// Owns writing below the stream: a Buffer goes straight to a libuv stream handle, which tries
// the write at once (uv_try_write), so the forwarding path pays neither Writable's per-write state
// nor a request object, a callback and a next-tick per write. Only a write the kernel does not take
// whole stays pending in libuv. For a net.Socket (servers, TLS clients) the socket emits 'drain'
// when the last such write is done; whoever writes to the same socket through write() meanwhile
// is queued behind them by libuv, so order holds; when Writable itself holds bytes (a write()
// still pending, a cork), this module goes through write() too. Plain clients have no net.Socket:
// lib/client/client-socket writes to their handle through handleWrite.

import type * as net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** The part of a libuv stream handle (TCPWrap, PipeWrap) used here. */
export interface StreamHandle {
  writeBuffer(req: WriteReq, bytes: Buffer): number;
  readonly writeQueueSize: number;
}

/** node's WriteWrap: the request object a handle write needs (bound to C++ only when the write goes async). */
export interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  /** Keeps the bytes alive while libuv still points into them. */
  buffer: Buffer | null;
  /** Whose write it is, for oncomplete. */
  owner: object | null;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/**
 * A socket as net.Socket has it: its handle (null once closed), whether it is TLS, this module's
 * writes still pending on it, and who hears a failed write instead of destroying it (onWriteFailed).
 */
type Wired = net.Socket & {
  _handle: StreamHandle | null;
  _writableState: { readonly length: number; readonly corked: number; readonly highWaterMark: number };
  encrypted?: boolean;
  [PENDING]?: number;
  [WRITE_FAILED]?: (err: Error) => void;
};

const PENDING = Symbol('pgmux.pendingDirectWrites');
const WRITE_FAILED = Symbol('pgmux.onWriteFailed');

/**
 * A write of this module to `socket` that fails calls `handler` instead of destroying the socket:
 * the peer may have said why it closed before the write failed (a server's FATAL), and reading
 * goes on until its end, as libpq does. The handler stops writing and closes the socket in time.
 */
export function onWriteFailed(socket: net.Socket, handler: (err: Error) => void): void {
  (socket as Wired)[WRITE_FAILED] = handler;
}

function writeFailed(socket: Wired, err: Error): void {
  const handler = socket[WRITE_FAILED];
  if (handler !== undefined) handler(err);
  else socket.destroy(err);
}

// process.binding('stream_wrap') is the binding net.Socket itself writes through; it is on node's
// allow list for process.binding, and node >= 20 is required (package.json engines).
const binding = (process as unknown as { binding(name: 'stream_wrap'): StreamWrapBinding }).binding('stream_wrap');
const { WriteWrap, streamBaseState, kLastWriteWasAsync } = binding;

/**
 * The request object of the next write. A write the kernel takes whole never touches it (node's
 * StreamBase::Write returns before making a WriteWrap), so one object serves every such write; a
 * write that goes async keeps it, and the next write gets a new one.
 */
let spare: WriteReq = new WriteWrap();

/**
 * Writes `bytes` to a stream handle: 0 when the kernel took them all (`bytes` is no longer
 * referenced), a negative errno when the write failed, or 1 when the rest is pending in libuv:
 * `oncomplete` is then called on the request, whose `owner` is `owner`, once it is done.
 */
export function handleWrite(handle: StreamHandle, bytes: Buffer, owner: object, oncomplete: (this: WriteReq, status: number) => void): number {
  const req = spare;
  const err = handle.writeBuffer(req, bytes);
  if (err !== 0) {
    // The request may have been bound to the failed write: the next one gets a fresh one.
    spare = new WriteWrap();
    return err;
  }
  // Taken whole: nothing of this write is queued (an earlier pending one would have made it async).
  if (streamBaseState[kLastWriteWasAsync] === 0) return 0;
  spare = new WriteWrap();
  req.buffer = bytes;
  req.owner = owner;
  req.oncomplete = oncomplete;
  return 1;
}

function onSocketWriteDone(this: WriteReq, status: number): void {
  const socket = this.owner as Wired;
  this.buffer = null;
  this.owner = null;
  if (status < 0) {
    // The socket is failing: its owner hears it (onWriteFailed), or through 'error' and 'close'.
    if (!socket.destroyed) writeFailed(socket, systemError(status, 'write'));
    return;
  }
  // The last of this module's pending writes is done: 'drain', even if write()'s own are still
  // queued behind it (those say 'drain' themselves when write() asked for one).
  const left = (socket[PENDING] ?? 1) - 1;
  socket[PENDING] = left;
  if (left === 0) socket.emit('drain');
}

/** An error as node's own socket code makes them (code, errno, syscall). */
export function systemError(status: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  err.code = code;
  err.errno = status;
  err.syscall = syscall;
  return err;
}

/**
 * Writes `bytes` to `socket`. Returns 0 when the kernel took them all (`bytes` is no longer
 * referenced), else how many bytes are still pending; at or past the socket's high-water mark
 * the caller pauses its source, and a 'drain' follows for sure (this module's, or write()'s).
 */
export function writeDirect(socket: net.Socket, bytes: Buffer): number {
  const s = socket as Wired;
  const handle = s._handle;
  // Fields, not the stream getters (writableLength, writableCorked, destroyed): those are shared
  // by every stream in the process, and once the HTTP listener's sockets run through them their
  // loads go megamorphic (perf of the metrics-on pgmux). A destroyed net.Socket has no handle
  // (its _destroy drops it at once), so `handle === null` is the destroyed check.
  const ws = s._writableState;
  if (handle === null || s.encrypted === true || s.connecting || ws.length !== 0 || ws.corked !== 0) {
    // write() says 'drain' only after it returned false: report past the mark only then.
    return s.write(bytes) ? s.writableLength : Math.max(s.writableLength, s.writableHighWaterMark);
  }
  const result = handleWrite(handle, bytes, s, onSocketWriteDone);
  if (result === 0) return 0;
  if (result < 0) {
    writeFailed(s, systemError(result, 'write'));
    return 0;
  }
  s[PENDING] = (s[PENDING] ?? 0) + 1;
  return Math.max(1, handle.writeQueueSize);
}

/** writeDirect(), then whether what is pending stays under the socket's high-water mark (false: pause the source). */
export function writeDirectFits(socket: net.Socket, bytes: Buffer): boolean {
  // The mark from the state's field, for the same reason as writeDirect's checks.
  return writeDirect(socket, bytes) < (socket as Wired)._writableState.highWaterMark;
}

/** Bytes written to `socket` that the kernel has not taken yet: Writable's and libuv's. */
export function pendingBytes(socket: net.Socket): number {
  const handle = (socket as Wired)._handle;
  return Math.max(socket.writableLength, handle === null ? 0 : handle.writeQueueSize);
}
