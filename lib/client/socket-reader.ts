// Owns reading client sockets below the stream: an accepted socket's handle is wrapped again with
// net's `onread`, so every read of every plain client lands in one buffer shared by all of them,
// with no Buffer made per read (node allocates 64 KiB and shrinks it), no Readable push and no
// 'data' event. What a client gets is a copy of the bytes read (small ones come from node's
// Buffer pool), never a view of the shared buffer: a client keeps chunks past its read (queued
// while waiting for a server, a request kept for a resend, a held prepared batch, a write its
// server has not taken yet), and the next read of any client overwrites the shared buffer.
//
// A TLS client reads through its TLSSocket's 'data' events instead (lib/client/tls-upgrade.ts):
// TLS takes over the handle's reads below this buffer.

import * as net from 'node:net';
import { clock } from '../pool/clock';
import { ownerOf } from './socket-events';

/** What node reads at once by default. */
const READ_BUFFER_SIZE = 64 * 1024;

const shared = Buffer.allocUnsafe(READ_BUFFER_SIZE);

/** net's onread callback, one for every client socket (`this` is the socket). */
function onRead(this: net.Socket, length: number, buf: Buffer): boolean {
  const owner = ownerOf(this);
  // No owner once the listeners moved to a TLS socket; those bytes are TLS's (not reached here).
  if (owner === undefined) return true;
  // What this read starts (a wait, a request, an idle spell) is stamped with this reading.
  clock.tick();
  owner.onData(copy(buf, length));
  return true;
}

/** The first `length` bytes of the shared buffer as a Buffer of their own (pooled below 4 KiB). */
function copy(buf: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  buf.copy(out, 0, 0, length);
  return out;
}

/**
 * The socket `accepted` (from a server created with pauseOnConnect, so nothing was read yet) as
 * one that reads through onRead. The accepted wrapper lets go of the handle and is destroyed, so
 * the server's count of connections stays right; the handle itself stays open.
 */
export function readBelowStream(accepted: net.Socket): net.Socket {
  const wrapper = accepted as net.Socket & { _handle: object | null };
  const handle = wrapper._handle;
  if (handle === null) return accepted;
  wrapper._handle = null;
  accepted.destroy();
  const options = { handle, allowHalfOpen: true, readable: true, writable: true, onread: { buffer: shared, callback: onRead } };
  return new net.Socket(options as net.SocketConstructorOpts);
}
