// Black-box spec of admin console abuse: KILL on a database while one of its servers is still
// logging in. pgmux ended that server itself, so the login did not fail: a client arriving next
// waits for RESUME (KILL pauses, as in PgBouncer) and is then served, not refused with 57P03
// "server login has been failing" for server_login_retry (15 s) while PostgreSQL is fine. A bystander's open transaction on another database goes on untouched.

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { bystanderInTransaction, pgClient } from '../support/clients';
import { consoleRows } from '../support/console';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { isAlive } from '../support/procs';
import { startMux, pollUntil } from './support/setup';

/**
 * A TCP door in front of PostgreSQL that holds each connection (nothing forwarded) while `held`,
 * so a server login can be caught half done; once opened, connections pass straight through.
 */
class Door {
  held = true;
  /** Connections accepted and still held. */
  readonly waiting: Socket[] = [];
  private constructor(private readonly server: Server, readonly port: number) {}

  static async open(pgPort: number): Promise<Door> {
    const port = await freePort();
    let door: Door | undefined;
    const server = createServer((client) => {
      client.on('error', () => undefined);
      if (door!.held) door!.waiting.push(client);
      else pipe(client, pgPort);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    door = new Door(server, port);
    return door;
  }

  close(): Promise<void> {
    for (const s of this.waiting) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function pipe(client: Socket, pgPort: number): void {
  const pg = connect(pgPort, '127.0.0.1');
  pg.on('error', () => client.destroy());
  client.on('close', () => pg.destroy());
  pg.on('close', () => client.destroy());
  client.pipe(pg).pipe(client);
}

/** `p`, or a failure naming `what` after `ms`: every wait in this file is bounded. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

let cluster: Cluster;
let door: Door;
let mux: PgmuxProcess;
/** In an open transaction on database app for the whole file. */
let bystander: Client;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE bystander (n int)', 'app');
  door = await Door.open(cluster.primary.port);
  mux = await startMux(cluster, {
    databases: [`slow = host=127.0.0.1 port=${door.port} dbname=app`],
    // The default server_login_retry (15 s) is what a wrongly counted failure would cost.
    settings: { admin_users: 'app', server_connect_timeout: 30 },
  });
  bystander = await bystanderInTransaction(mux.port, cluster.password);
});

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await mux?.stop();
  await door?.close();
  await cluster?.stop();
});

it('KILL of a database whose server is mid-login leaves the next client served, not refused with 57P03 (catches: pgmux counting its own close as a failed server login)', async () => {
  // A client of `slow` waits for its welcome while the pool's first server is held at the door.
  const first = pgClient(mux.port, 'app', cluster.password, 'slow');
  const firstOutcome = first.then(
    (c) => c.end().then(() => 'connected'),
    (err: Error) => err.message,
  );
  await pollUntil(() => door.waiting.length === 1, 'the server login to reach the door');

  await consoleRows(mux.port, 'app', cluster.password, 'KILL slow');
  // The killed client hears why, within a bounded time (pg's connect rejects on the close).
  expect(await within(2000, 'the killed client hearing it', firstOutcome)).not.toBe('connected');

  // KILL pauses the database (as in PgBouncer): a client arriving now waits for RESUME, it is
  // not refused. PostgreSQL was never the problem, so once resumed it is served at once.
  door.held = false;
  const waiter = pgClient(mux.port, 'app', cluster.password, 'slow');
  waiter.catch(() => undefined);
  await pollUntil(
    async () => (await consoleRows(mux.port, 'app', cluster.password, 'SHOW CLIENTS')).some((r) => r.database === 'slow'),
    'the new client of the killed database to be waiting',
    5000,
  );
  const resumed = Date.now();
  await consoleRows(mux.port, 'app', cluster.password, 'RESUME slow');
  const next = await within(5000, 'the waiting client logging in after RESUME', waiter);
  try {
    expect((await within(5000, 'its query', next.query('SELECT 1 AS one'))).rows).toEqual([{ one: 1 }]);
  } finally {
    await next.end();
  }
  expect(Date.now() - resumed).toBeLessThan(5000);

  expect(isAlive(mux.pid)).toBe(true);
  expect((await bystander.query('SELECT count(*)::int AS n FROM bystander')).rows).toEqual([{ n: 1 }]);
  await bystander.query('COMMIT');
});
