// Owns writing below the stream: a Buffer goes straight to the socket's libuv handle, which tries
// the write at once (uv_try_write), so the forwarding path pays neither Writable's per-write state
// nor a request object, a callback and a next-tick per write. Only a write the kernel does not take
// whole stays pending in libuv; the socket then reports those bytes as pending until they are
// written, and emits 'drain' when they are. Whoever writes to the same socket through write()
// meanwhile is queued behind them by libuv, so order holds; when Writable itself holds bytes (a
// write() still pending, a cork), this module goes through write() too.

import type * as net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** The part of a libuv stream handle (TCPWrap, PipeWrap) used here. */
interface StreamHandle {
  writeBuffer(req: WriteReq, bytes: Buffer): number;
  readonly writeQueueSize: number;
}

/** node's WriteWrap: the request object a handle write needs (bound to C++ only when the write goes async). */
interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  /** Keeps the bytes alive while libuv still points into them. */
  buffer: Buffer | null;
  socket: net.Socket | null;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** A socket as net.Socket has it: its handle (null once closed), and whether it is TLS. */
type Wired = net.Socket & { _handle: StreamHandle | null; encrypted?: boolean; [PENDING]?: number };

const PENDING = Symbol('pgmux.pendingDirectWrites');

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

function onComplete(this: WriteReq, status: number): void {
  const socket = this.socket as Wired;
  this.buffer = null;
  this.socket = null;
  if (status < 0) {
    // The socket is failing: its owner hears it through 'error' and 'close'.
    if (!socket.destroyed) socket.destroy(systemError(status));
    return;
  }
  const handle = socket._handle;
  if (handle === null || handle.writeQueueSize === 0) {
    socket[PENDING] = 0;
    socket.emit('drain');
  }
}

function systemError(status: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const err: NodeJS.ErrnoException = new Error(`write ${code}`);
  err.code = code;
  err.errno = status;
  err.syscall = 'write';
  return err;
}

/**
 * Writes `bytes` to `socket`. Returns how many bytes written to the socket are not yet in the
 * kernel (0: all of them, and `bytes` is no longer referenced); the caller pauses its source
 * past a high-water mark and resumes it on 'drain'.
 */
export function writeDirect(socket: net.Socket, bytes: Buffer): number {
  const s = socket as Wired;
  const handle = s._handle;
  if (handle === null || s.encrypted === true || s.connecting || s.writableLength !== 0 || s.writableCorked !== 0 || s.destroyed) {
    s.write(bytes);
    return pendingBytes(s);
  }
  const req = spare;
  const err = handle.writeBuffer(req, bytes);
  if (err !== 0) {
    s.destroy(systemError(err));
    return 0;
  }
  if (streamBaseState[kLastWriteWasAsync] === 0) return s[PENDING] === undefined || s[PENDING] === 0 ? 0 : handle.writeQueueSize;
  spare = new WriteWrap();
  req.buffer = bytes;
  req.socket = s;
  req.oncomplete = onComplete;
  s[PENDING] = 1;
  return handle.writeQueueSize;
}

/** Bytes written to `socket` that the kernel has not taken yet: Writable's and libuv's. */
export function pendingBytes(socket: net.Socket): number {
  const handle = (socket as Wired)._handle;
  return Math.max(socket.writableLength, handle === null ? 0 : handle.writeQueueSize);
}
