// Owns moving clients from a worker to its successor during a restart (SIGUSR2 to the main
// process, README "Workers"). On the old worker: which clients may move and when (at rest between
// transactions), taking a client's socket handle out from under it, and sending it with its
// session (lib/client/carried-session) to the main process, until none is left. On the new
// worker: adopting what arrives as a logged-in idle client.

import { ClientConnection } from '../client/client-connection';
import type { CarriedSession } from '../client/carried-session';
import { ClientSocket, remoteOf } from '../client/client-socket';
import type { Registry } from '../pool/registry';
import { Pool } from '../pool/pool';
import { log } from '../log';

/** How often the old worker looks at every client again (a client usually moves the moment it goes idle). */
const SWEEP_MS = 250;
/** How often the old worker says what still keeps it. */
const REPORT_MS = 60_000;

/** The OS handle (libuv TCP or pipe) under a client socket: what node sends to another process. */
export interface ClientHandle {
  close(): void;
}

/** Sends a client to the main process; `done` once the handle has left (or could not). */
export type SendClient = (client: CarriedSession, handle: ClientHandle, done: (err: Error | null) => void) => void;

/** Why a client cannot move to another process at all (it stays with the old worker until it leaves), or null. */
export function staysBecause(client: ClientConnection): string | null {
  if (client.console !== null) return 'admin console';
  // TLS state lives in this process's OpenSSL: it cannot be carried (PgBouncer's -R drops such clients).
  if (client.tls) return 'TLS';
  // The server session is the client's for its life: it cannot go to another process's pool.
  if (client.pool !== null && client.pool.settings.poolMode === 'session') return 'session pooling';
  return null;
}

/** The old worker's side of a restart: every client that can move goes, each at rest. */
export class HandOver {
  private moved = 0;
  private inFlight = 0;
  private readonly due = new Set<ClientConnection>();
  private flushQueued = false;
  private readonly timer: NodeJS.Timeout;
  private lastReport: number;
  private done = false;

  constructor(
    private readonly index: number,
    private readonly registry: Registry,
    private readonly send: SendClient,
    /** Called once, when no client is left here. */
    private readonly finished: (moved: number) => void,
  ) {
    this.lastReport = Date.now();
    registry.wentIdle = (client) => this.wentIdle(client);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    log.info(`handing ${registry.clients.size} clients over to the new worker ${index} as each reaches a transaction boundary`);
    const staying = this.staying();
    if (staying !== '') log.info(`these cannot move and stay on this worker until they disconnect: ${staying}`);
    this.sweep();
  }

  /** A client went idle: it moves once the event that made it idle is fully handled. */
  private wentIdle(client: ClientConnection): void {
    this.due.add(client);
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(this.flushDue);
  }

  private readonly flushDue = (): void => {
    this.flushQueued = false;
    for (const client of this.due) this.tryMove(client);
    this.due.clear();
    this.checkDone();
  };

  private sweep(): void {
    for (const client of [...this.registry.clients]) this.tryMove(client);
    if (Date.now() - this.lastReport >= REPORT_MS) {
      this.lastReport = Date.now();
      log.info(`still serving ${this.registry.clients.size} clients (${this.moved} handed over so far)${this.staying() === '' ? '' : `; cannot move: ${this.staying()}`}`);
    }
    this.checkDone();
  }

  private tryMove(client: ClientConnection): void {
    if (this.done || client.state === 'closed' || !client.atRest || staysBecause(client) !== null) return;
    const carried = client.carry();
    // The one place that knows how a client holds its connection (lib/client/client-socket).
    const handle = client.socket.detach() as ClientHandle | null;
    if (handle === null) return;
    client.handedOver();
    this.inFlight++;
    this.send(carried, handle, (err) => {
      // The receiving process has its own descriptor now (or none: the client is lost either way).
      handle.close();
      this.inFlight--;
      if (err === null) this.moved++;
      else log.warn(`a client could not be handed over (${err.message}); its connection is closed`);
      this.checkDone();
    });
  }

  private checkDone(): void {
    if (this.done || this.registry.clients.size > 0 || this.registry.turnedAway.size > 0 || this.inFlight > 0) return;
    this.done = true;
    clearInterval(this.timer);
    this.registry.wentIdle = null;
    log.info(`handed over ${this.moved} clients to the new worker ${this.index}`);
    this.finished(this.moved);
  }

  /** What keeps clients here for good, counted by reason ('' when nothing does). */
  private staying(): string {
    const counts = new Map<string, number>();
    for (const client of this.registry.clients) {
      const why = staysBecause(client);
      if (why !== null) counts.set(why, (counts.get(why) ?? 0) + 1);
    }
    return [...counts].map(([why, n]) => `${n} (${why})`).join(', ');
  }
}

/** The new worker's side: a client the old worker of this index handed over joins this process. */
export function adoptClient(registry: Registry, carried: CarriedSession, handle: object): void {
  // Node delivers a sent TCP or pipe handle as the raw libuv handle, as an accepted one is.
  const socket = new ClientSocket(handle as ConstructorParameters<typeof ClientSocket>[0]);
  const client = new ClientConnection(socket, registry, remoteOf(socket.remoteEnd()));
  registry.clients.add(client);
  const pool = registry.findPool(carried.database, carried.user);
  if (!(pool instanceof Pool)) {
    // The config read by this process no longer has the database (or disabled it): as a login would be.
    client.fail(pool);
    return;
  }
  if (carried.scramKeys !== null && pool.scramKeys === null) {
    pool.scramKeys = { clientKey: Buffer.from(carried.scramKeys.clientKey, 'base64'), serverKey: Buffer.from(carried.scramKeys.serverKey, 'base64') };
  }
  registry.adoptCancelKey(client, carried.cancelKey);
  client.adopt(carried, pool);
  // A user known through auth_query: this process learns its secret (for server logins) before the client's next request.
  if (registry.userSecret(carried.user) === undefined) {
    const lookup = registry.queryUserSecret(carried.database, carried.user);
    if (lookup !== null) {
      client.pauseReading();
      const resume = (): void => client.resumeReading();
      lookup.then(resume, resume);
    }
  }
}
