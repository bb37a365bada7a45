// Owns loopback TCP ports for specs: finding free ones, refusing taken ones, awaiting a listener.

import { createConnection, createServer } from 'node:net';
import { raceTimeout, type Child } from './child';

const HOST = '127.0.0.1';

/**
 * A port on 127.0.0.1 that nothing listens on right now: the kernel picks it when we bind
 * port 0, and we close at once. Another process could take it before the caller binds it;
 * the kernel hands out ephemeral ports in rotation, so in practice it does not happen.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/** Distinct free ports (two freePort() calls may, rarely, return the same one). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Throws a clear error if something already listens on 127.0.0.1:port. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${err.message})`;
      reject(new Error(`port ${HOST}:${port} ${why}; find the owner with: ss -ltnp 'sport = :${port}'`));
    });
    server.listen(port, HOST, () => server.close(() => resolve()));
  });
}

/** True once a TCP connection to 127.0.0.1:port succeeds (the connection is closed at once). */
function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Resolves when 127.0.0.1:port accepts a connection. Rejects with the child's output as soon
 * as the child exits, or after timeoutMs. Between attempts it backs off from 5 ms to 100 ms:
 * there is no event for "the other process called listen()", so this is a poll of a condition.
 */
export async function waitForPort(port: number, child: Child, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (child.hasExited()) throw await child.exitFailure(`before listening on port ${port}`);
    if (await tryConnect(port)) return;
    if (Date.now() > deadline) throw child.failure(`${child.label}: port ${port} not accepting connections after ${timeoutMs} ms`);
    // Wake early if the child exits while we wait.
    await raceTimeout(child.exited, delay);
    delay = Math.min(delay * 2, 100);
  }
}
