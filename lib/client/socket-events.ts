// Owns the listeners on a TLS client's socket: one shared function per event for all clients, which
// finds its connection through a symbol on the socket, so that a client carries no closures of
// its own for them. A plain client has no socket object to listen on (./client-socket reports
// to the same SocketOwner).

import type * as net from 'node:net';
import { clock } from '../clock';

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

/** Routes the socket's data, drain, error, end and close events to `owner`. */
export function listen(socket: net.Socket, owner: SocketOwner): void {
  (socket as Owned)[OWNER] = owner;
  socket.on('data', onData);
  socket.on('drain', onDrain);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.on('close', onClose);
}
