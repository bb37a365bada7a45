// A client in the middle of a transaction (BEGIN; INSERT; no COMMIT yet) when the primary gets a
// fast stop: its transaction is gone with the server. The server's FATAL 57P01 reaches the client
// and pgmux then closes it (as PgBouncer does: a FATAL ends the session, so no ROLLBACK on the
// same connection can follow); its COMMIT never answers "COMMIT" (that would tell it the partial
// write is durable), and the partial write is not on the new primary. The application's next
// transaction, on a new connection, is held while there is no primary and runs on the promoted standby.

import type { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { freePort } from '../support/ports';
import { until } from '../routing/support';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let bouncer: PgBouncerProcess | null = null;
const clients = new AppClients(() => cluster);
const hosts = (): Promise<Record<string, unknown>[]> => hostRows(pgmux, cluster.password);

type Outcome = { ok: true; command: string | null; port?: number } | { ok: false; code: string | undefined; message: string };

/** Connects a client to `port` that records what it raised, and resolves `ended` when its connection closes. */
async function watched(port: number): Promise<{ c: Client; raised: (Error & { code?: string; severity?: string })[]; ended: Promise<void> }> {
  const c = await clients.connect(port);
  const raised: (Error & { code?: string; severity?: string })[] = [];
  c.on('error', (e) => raised.push(e));
  const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
  return { c, raised, ended };
}

const shown = (raised: (Error & { code?: string; severity?: string })[]): string => JSON.stringify(raised.map((e) => ({ code: e.code, severity: e.severity, message: e.message })));

async function attempt(c: Client, sql: string): Promise<Outcome> {
  try {
    const r = await c.query(sql);
    return { ok: true, command: r.command, port: r.rows[0]?.p === undefined ? undefined : Number(r.rows[0].p) };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, code: e.code, message: e.message };
  }
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE mt (who text NOT NULL); GRANT ALL ON mt TO app');
  ({ cluster, primary, standby } = pair);
  pgmux = await startTwoHosts(pair, 'failover_timeout = 60\nquery_wait_timeout = 120\n');
}, 120000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await bouncer?.stop();
  await cluster?.stop();
});

describe('a transaction open when the primary stops', () => {
  it('ends with FATAL 57P01, is not applied on the new primary, and the next transaction is held and runs there', async () => {
    await until('the primary found', async () => hostRow(await hosts(), primary).state === 'primary');
    const { c, raised, ended } = await watched(pgmux.port);
    expect(await attempt(c, 'BEGIN')).toMatchObject({ ok: true });
    expect(await attempt(c, "INSERT INTO mt VALUES ('partial')")).toMatchObject({ ok: true });

    await cluster.stopNode(primary, 'fast');
    // The server's FATAL reaches the idle-in-transaction client, which pgmux then disconnects (as
    // PgBouncer does): a FATAL ends a session, so there is no same-connection ROLLBACK to offer.
    await ended;
    console.log(`pgmux: raised on the idle-in-transaction client: ${shown(raised)}`);
    // First the server's own FATAL 57P01; then pgmux's FATAL 08006 "server conn crashed?" (PgBouncer's
    // words; its code there is 08P01, protocol violation, where 08006 says what happened) and the close.
    expect(raised[0]).toMatchObject({ code: '57P01', severity: 'FATAL' });
    for (const e of raised.slice(1)) expect(e.code === undefined || (e.code === '08006' && e.severity === 'FATAL')).toBe(true);
    const commit = await attempt(c, 'COMMIT');
    expect(commit.ok).toBe(false);

    // The application reconnects: its next transaction waits for the new primary.
    await until('pgmux to search', async () => hostRow(await hosts(), standby).primary_state === 'searching');
    const again = await clients.connect(pgmux.port);
    const next = (async () => [
      await attempt(again, 'BEGIN'),
      await attempt(again, "INSERT INTO mt VALUES ('next') RETURNING inet_server_port() AS p"),
      await attempt(again, 'COMMIT'),
    ])();
    await cluster.promote(standby);
    const [begin, insert, done] = await next;
    console.log(`next transaction: ${JSON.stringify([begin, insert, done])}`);
    expect(begin).toMatchObject({ ok: true });
    expect(insert).toMatchObject({ ok: true, port: standby.port });
    expect(done).toMatchObject({ ok: true, command: 'COMMIT' });

    const rows = await cluster.query(standby, 'SELECT who, count(*)::int AS n FROM mt GROUP BY who ORDER BY who');
    expect(Object.fromEntries(rows.rows.map((r) => [r.who, r.n]))).toEqual({ next: 1 });
  });

  /** The same through PgBouncer 1.18, in front of the new primary (the last use of it here), for the comparison. */
  it('is what PgBouncer 1.18 does too: the server\'s FATAL 57P01, then its own FATAL "server conn crashed?" (08P01 there, 08006 in pgmux) and the close', async () => {
    const port = await freePort();
    const ini = `[databases]\napp = host=127.0.0.1 port=${standby.port} dbname=app\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = plain\nauth_file = userlist.txt\npool_mode = transaction\n`;
    bouncer = await startPgBouncer(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
    const { c, raised, ended } = await watched(port);
    expect(await attempt(c, 'BEGIN')).toMatchObject({ ok: true });
    expect(await attempt(c, "INSERT INTO mt VALUES ('bouncer-partial')")).toMatchObject({ ok: true });
    await cluster.stopNode(standby, 'fast');
    await ended;
    console.log(`PgBouncer: raised on the idle-in-transaction client: ${shown(raised)}`);
    expect(raised[0]).toMatchObject({ code: '57P01', severity: 'FATAL' });
    for (const e of raised.slice(1)) expect(e.code === undefined || (e.code === '08P01' && e.severity === 'FATAL' && e.message === 'server conn crashed?')).toBe(true);
  });

  /**
   * An immediate stop sends no FATAL: the client gets pgmux's FATAL 08006 alone. The host comes
   * back in place (same timeline): the partial row is gone, and the next transaction waited for it.
   */
  it('at an immediate stop ends with FATAL 08006, is not applied, and the next transaction waits for the restart', async () => {
    await cluster.startNode(standby);
    await until('the new primary back', async () => hostRow(await hosts(), standby).state === 'primary', 30000);
    const { c, raised, ended } = await watched(pgmux.port);
    expect(await attempt(c, 'BEGIN')).toMatchObject({ ok: true });
    expect(await attempt(c, "INSERT INTO mt VALUES ('immediate-partial') RETURNING inet_server_port() AS p")).toMatchObject({ ok: true, port: standby.port });
    await cluster.stopNode(standby, 'immediate');
    await ended;
    console.log(`pgmux, immediate stop: raised on the idle-in-transaction client: ${shown(raised)}`);
    expect(raised[0]).toMatchObject({ code: '08006', severity: 'FATAL', message: 'server conn crashed?' });

    await until('pgmux to search', async () => hostRow(await hosts(), standby).primary_state === 'searching');
    const again = await clients.connect(pgmux.port);
    const next = (async () => [
      await attempt(again, 'BEGIN'),
      await attempt(again, "INSERT INTO mt VALUES ('after-restart') RETURNING inet_server_port() AS p"),
      await attempt(again, 'COMMIT'),
    ])();
    await cluster.startNode(standby);
    const [begin, insert, done] = await next;
    expect(begin).toMatchObject({ ok: true });
    expect(insert).toMatchObject({ ok: true, port: standby.port });
    expect(done).toMatchObject({ ok: true, command: 'COMMIT' });
    const rows = await cluster.query(standby, 'SELECT who, count(*)::int AS n FROM mt GROUP BY who ORDER BY who');
    expect(Object.fromEntries(rows.rows.map((r) => [r.who, r.n]))).toEqual({ 'after-restart': 1, next: 1 });
  });
});
