// Owns the listeners on a client's socket: one shared function per event for all clients, which
// finds its connection through a symbol on the socket, so that a client carries no closures of
// its own for them. A TLS upgrade moves them from the raw socket to the TLS one.

import type * as net from 'node:net';
import { clock } from '../pool/clock';

/** What the socket's events reach (ClientConnection). */
export interface SocketOwner {
  onData(chunk: Buffer): void;
  onDrain(): void;
  onError(err: Error): void;
  /** The client sent FIN (the listener allows half-open sockets). */
  onEnd(): void;
  onClose(): void;
}

const OWNER = Symbol('pgmux.client');

/** A socket with its connection on it; the slot is undefined once the listeners moved away. */
type Owned = net.Socket & { [OWNER]?: SocketOwner };

function onData(this: Owned, chunk: Buffer): void {
  // What this data starts (a wait, a request, an idle spell) is stamped with this reading.
  clock.tick();
  (this[OWNER] as SocketOwner).onData(chunk);
}

function onDrain(this: Owned): void {
  (this[OWNER] as SocketOwner).onDrain();
}

function onError(this: Owned, err: Error): void {
  (this[OWNER] as SocketOwner).onError(err);
}

function onEnd(this: Owned): void {
  (this[OWNER] as SocketOwner).onEnd();
}

function onClose(this: Owned): void {
  (this[OWNER] as SocketOwner).onClose();
}

/** The connection `socket`'s events reach, if any (lib/client/socket-reader's reads go there too). */
export function ownerOf(socket: net.Socket): SocketOwner | undefined {
  return (socket as Owned)[OWNER];
}

/** Routes the socket's data, drain, error, end and close events to `owner`. */
export function listen(socket: net.Socket, owner: SocketOwner): void {
  (socket as Owned)[OWNER] = owner;
  socket.on('data', onData);
  socket.on('drain', onDrain);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.on('close', onClose);
}

/** Undoes listen(): the socket's events no longer reach its owner. */
export function unlisten(socket: net.Socket): void {
  socket.off('data', onData);
  socket.off('drain', onDrain);
  socket.off('error', onError);
  socket.off('end', onEnd);
  socket.off('close', onClose);
  // Assigned rather than deleted: a delete would turn the socket into a slow dictionary object.
  (socket as Owned)[OWNER] = undefined;
}
