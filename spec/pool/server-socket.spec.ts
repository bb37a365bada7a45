// Black-box spec of a plain server connection read below net.Socket (issue 13, lib/handle-read
// used by lib/server/server-connection): the server's FIN, a reset, and a polite close, which
// node's stream code used to handle for pgmux. The server is the cluster's primary behind a
// small TCP relay in this file, so that the spec can end or reset pgmux's server connection
// where PostgreSQL itself would not (a FIN in the middle of a result, a network reset). A slow
// client pausing and resuming the server's read is spec/client/backpressure.spec.ts.

import { readdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import { consoleRows } from '../support/console';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { isAlive } from '../support/procs';
import { pollUntil, startMux } from '../client/support/setup';

jest.setTimeout(30000);

/** A TCP relay to PostgreSQL that remembers the pgmux side of each connection. */
class Relay {
  /**
   * pgmux's connections through the relay, oldest first, with their PostgreSQL side and the bytes
   * relayed to pgmux. `ping` marks the host pings (a GSSENCRequest, then a close: lib/failover/ping)
   * that pgmux sends every few seconds: they are not server connections.
   */
  readonly links: { down: Socket; up: Socket; toMux: number; ping: boolean | null }[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: number): Promise<Relay> {
    const port = await freePort();
    const server = createServer({ allowHalfOpen: true });
    const relay = new Relay(server, port);
    server.on('connection', (down) => {
      const up = connect({ host: '127.0.0.1', port: target, allowHalfOpen: true });
      const link: { down: Socket; up: Socket; toMux: number; ping: boolean | null } = { down, up, toMux: 0, ping: null };
      relay.links.push(link);
      down.on('data', (b: Buffer) => {
        link.ping ??= b.length >= 8 && b.readUInt32BE(4) === GSSENC_REQUEST_CODE;
        up.write(b);
      });
      up.on('data', (b) => {
        link.toMux += b.length;
        down.write(b);
      });
      down.on('end', () => up.end());
      up.on('end', () => down.end());
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
    });
    await new Promise<void>((ready) => server.listen(port, '127.0.0.1', ready));
    return relay;
  }

  /** pgmux's server connections (its pings left out). */
  private get servers(): { down: Socket; up: Socket; toMux: number }[] {
    return this.links.filter((l) => l.ping !== true);
  }

  /** The newest server connection pgmux made. */
  get latest(): { down: Socket; up: Socket; toMux: number } {
    const servers = this.servers;
    const link = servers[servers.length - 1];
    if (link === undefined) throw new Error('pgmux has no server connection through the relay');
    return link;
  }

  /** Connections whose pgmux side is still open (pgmux has not closed its socket). */
  get open(): number {
    return this.servers.filter((l) => !l.down.destroyed).length;
  }

  stop(): Promise<void> {
    for (const l of this.links) {
      l.down.destroy();
      l.up.destroy();
    }
    return new Promise((done) => this.server.close(() => done()));
  }
}

/** GSSENCRequest's request code (PostgreSQL's NEGOTIATE_GSS_CODE). */
const GSSENC_REQUEST_CODE = 80877104;

let cluster: Cluster;
let relay: Relay;
let mux: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  relay = await Relay.start(cluster.primary.port);
  mux = await startMux(cluster, {
    databases: [`relayed = host=127.0.0.1 port=${relay.port} dbname=app pool_size=1`],
    settings: { admin_users: 'postgres', query_wait_timeout: 20 },
  });
});

afterAll(async () => {
  await mux?.stop();
  await relay?.stop();
  await cluster?.stop();
});

const admin = (command: string): Promise<Record<string, unknown>[]> => consoleRows(mux.port, 'postgres', cluster.password, command);
const connectRelayed = (): Promise<Client> => pgClient(mux.port, 'app', cluster.password, 'relayed');

/** Servers of database `relayed` pgmux holds (SHOW SERVERS). */
async function serversOfRelayed(): Promise<number> {
  return (await admin('SHOW SERVERS')).filter((r) => r.database === 'relayed').length;
}

/** pgmux's open file descriptors. */
function muxFds(): number {
  return readdirSync(`/proc/${mux.pid}/fd`).length;
}

/** A new client of `relayed` gets an answer, from a server whose backend pid is returned. */
async function answers(): Promise<number> {
  const c = await connectRelayed();
  try {
    const r = await c.query('SELECT pg_backend_pid() AS pid, 7 AS v');
    expect(r.rows[0].v).toBe(7);
    return r.rows[0].pid as number;
  } finally {
    await c.end();
  }
}

/** Resolves with the error `client` reports (on its query or as an 'error' event). */
function errorOf(client: Client, sql: string): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    client.on('error', resolve);
    client.query(sql).then(() => reject(new Error(`${sql} succeeded`)), resolve);
  });
}

describe('a plain server connection read below net.Socket', () => {
  it('fails the client when the server sends FIN in the middle of a result, and drops that server (catches: the FIN not read, a client hanging on a dead server)', async () => {
    const before = await answers();
    const c = await connectRelayed();
    const link = relay.latest;
    const sent = link.toMux;
    // ~50 MB of rows: once a first part of it has reached pgmux, the "server" ends the connection.
    const failed = errorOf(c, "SELECT repeat('x', 500) FROM generate_series(1, 100000)");
    await pollUntil(() => link.toMux > sent + 1_000_000, 'part of the result to reach pgmux');
    link.up.destroy();
    link.down.end();
    // The client had part of a DataRow: what follows (pgmux's 08006) cannot be read as a frame, so
    // a driver sees the connection end; pgmux's log says which server went.
    await failed;
    expect(mux.logs()).toMatch(/server connection lost: server closed the connection/);
    await c.end().catch(() => undefined);
    await pollUntil(async () => (await serversOfRelayed()) === 0, 'pgmux to drop the server that ended');
    expect(await answers()).not.toBe(before);
    expect(isAlive(mux.pid)).toBe(true);
  });

  it('drops an idle server that sends FIN, and the next client is not handed it (catches: the FIN of an idle server unread until a client gets it)', async () => {
    const before = await answers();
    const link = relay.latest;
    link.up.destroy();
    link.down.end();
    await pollUntil(async () => (await serversOfRelayed()) === 0, 'pgmux to drop the idle server that ended');
    // pgmux closed its socket too: the relay saw its side close.
    await pollUntil(() => link.down.destroyed, 'pgmux to close the socket of the server that ended');
    expect(await answers()).not.toBe(before);
  });

  it('fails a client in a transaction with 08006 when its server connection is reset, and the pool serves on (catches: a read error ignored, or crashing pgmux)', async () => {
    const c = await connectRelayed();
    await c.query('BEGIN');
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const link = relay.latest;
    const failed = new Promise<Error & { code?: string }>((resolve) => c.once('error', resolve));
    link.up.destroy();
    link.down.resetAndDestroy();
    const err = await failed;
    expect(err.code).toBe('08006');
    await c.end().catch(() => undefined);
    await pollUntil(async () => (await serversOfRelayed()) === 0, 'pgmux to drop the reset server');
    expect(mux.logs()).toMatch(/server connection error: read ECONNRESET/);
    expect(await answers()).not.toBe(pid);
    expect(isAlive(mux.pid)).toBe(true);
  });

  it('closes its socket once the server answers a polite close (Terminate) with FIN (catches: a socket kept open forever after RECONNECT, server_lifetime, server_idle_timeout)', async () => {
    await answers();
    const fds = muxFds();
    const openBefore = relay.open;
    for (let round = 0; round < 5; round++) {
      const link = relay.latest;
      // RECONNECT closes the idle server at once, politely: Terminate, then our FIN.
      await admin('RECONNECT relayed');
      await pollUntil(() => link.down.destroyed, 'pgmux to close the socket of the server it let go');
      await answers();
    }
    // Each round's server is gone from pgmux, not only from SHOW SERVERS.
    expect(relay.open).toBe(openBefore);
    await pollUntil(() => muxFds() <= fds, `pgmux's descriptors back to ${fds}`);
  });
});
