// Owns reading client sockets below the stream: an accepted connection's handle is wrapped in a
// net.Socket with net's `onread`, so every read of every plain client lands in one buffer shared by all of them,
// with no Buffer made per read (node allocates 64 KiB and shrinks it), no Readable push and no
// 'data' event. What a client gets is a copy of the bytes read (small ones come from node's
// Buffer pool), never a view of the shared buffer: a client keeps chunks past its read (queued
// while waiting for a server, a request kept for a resend, a held prepared batch, a write its
// server has not taken yet), and the next read of any client overwrites the shared buffer.
//
// A TLS client reads through its TLSSocket's 'data' events instead (lib/client/tls-upgrade.ts):
// TLS takes over the handle's reads below this buffer.

import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
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

/** The part of a listening net.Server's handle used here: node calls onconnection per accepted connection. */
interface ListenHandle {
  onconnection: (err: number, clientHandle: object | undefined) => void;
}

/**
 * From now on, every connection `server` accepts reaches `accept` as a socket made once, reading
 * through onRead: the listening handle's onconnection is taken over, so no stream-reading socket
 * is made first and thrown away. Call it once the server listens (its handle exists).
 */
export function acceptBelowStream(server: net.Server, accept: (socket: net.Socket) => void): void {
  const handle = (server as net.Server & { _handle: ListenHandle | null })._handle;
  if (handle === null) throw new Error('acceptBelowStream: the server is not listening');
  handle.onconnection = (err: number, clientHandle: object | undefined): void => {
    if (err !== 0 || clientHandle === undefined) {
      // EMFILE and the like: node's own accept logs nothing either; the listener stays open.
      server.emit('error', new Error(`accept failed: ${getSystemErrorName(err)}`));
      return;
    }
    accept(socketOfHandle(clientHandle));
  };
}

/**
 * A client socket, reading through onRead, over an OS handle: one just accepted, or one another
 * process handed over (a restart, lib/workers/handover).
 */
export function socketOfHandle(handle: object): net.Socket {
  // allowHalfOpen: a client's FIN must not end our side before a truncated message is answered.
  // (TCP_NODELAY: ClientConnection sets it, as it did over the server's noDelay option.)
  const options = { handle, allowHalfOpen: true, readable: true, writable: true, onread: { buffer: shared, callback: onRead } };
  return new net.Socket(options as net.SocketConstructorOpts);
}

/** How logs and SHOW CLIENTS name a client's peer: address:port, or unix. */
export function remoteOf(socket: net.Socket): string {
  return socket.remoteAddress === undefined ? 'unix' : `${socket.remoteAddress.replace(/^::ffff:/, '')}:${socket.remotePort}`;
}
