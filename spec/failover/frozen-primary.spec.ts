// Failover drill with a frozen primary (SIGSTOP of its postmaster and every backend: a hung host,
// or a network partition, which closes nothing and answers nothing). The probe goes unanswered,
// the primary is lost and new transactions are held. Then either the host continues (SIGCONT)
// within failover_timeout: what was in flight and what was held complete, each write exactly
// once, no error; or the standby is promoted: the held writes run once on the new primary, and a
// transaction that was in flight on the frozen host fails with 08006 instead of hanging for as
// long as the host stays frozen (its outcome there is unknown: the host is fenced now). A client
// whose pool never logged in (pgmux or its worker started since) logs in at once meanwhile, with
// the probe login's parameters as its welcome.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { consoleRows } from '../support/console';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { until } from '../routing/support';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';
import { Freezer } from './freeze';
import { Inbox } from '../session/support';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const freezer = new Freezer();
const clients = new AppClients(() => cluster);
const connect = (): Promise<Client> => clients.connect(pgmux.port);

type Outcome = { ok: true; ms: number } | { ok: false; code?: string; message: string; detail?: string; ms: number };

/** Runs `sql` on `c`: how it ended and how long it took, never throwing. */
function attempt(c: Client, sql: string): Promise<Outcome> {
  const since = Date.now();
  return c.query(sql).then(
    () => ({ ok: true as const, ms: Date.now() - since }),
    (e: Error & { code?: string; detail?: string }) => ({ ok: false as const, code: e.code, message: e.message, detail: e.detail, ms: Date.now() - since }),
  );
}

/** `p`, or 'pending' if it has not settled within `ms`. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function count(node: PgNode, who: string): Promise<number> {
  const r = await cluster.query(node, `SELECT count(*)::int AS n FROM frozen WHERE who = '${who}'`);
  return Number(r.rows[0]?.n);
}

function logSince(from: number, pattern: RegExp): Promise<void> {
  return until(`pgmux to log ${pattern}`, async () => pattern.test(pgmux.logs().slice(from)), 20000);
}

/** Rewrites failover_timeout in pgmux.ini and reloads (SIGHUP); resolves once SHOW CONFIG has it. */
async function setFailoverTimeout(seconds: number): Promise<void> {
  const path = join(pgmux.dir, 'pgmux.ini');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/failover_timeout = \d+/, `failover_timeout = ${seconds}`));
  process.kill(pgmux.pid, 'SIGHUP');
  await until(`failover_timeout = ${seconds}`, async () => {
    const rows = await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW CONFIG');
    return String(rows.find((r) => r.key === 'failover_timeout')?.value) === String(seconds);
  });
}

describe.each([1, 2])('workers = %i: a frozen primary', (workers) => {
  beforeAll(async () => {
    const pair = await startPair('CREATE TABLE frozen (who text NOT NULL); GRANT ALL ON frozen TO app');
    cluster = pair.cluster;
    primary = pair.primary;
    standby = pair.standby;
    pgmux = await startTwoHosts(pair, `workers = ${workers}\nfailover_timeout = 20\nserver_connect_timeout = 2\n`);
    await until('the primary to be found', async () => hostRow(await hostRows(pgmux, cluster.password), primary).role === 'primary');
  }, 120000);

  // A test that fails mid-freeze must not leave the host stopped for the next.
  afterEach(() => freezer.thaw());

  afterAll(async () => {
    freezer.thaw();
    await clients.endAll();
    await pgmux?.stop();
    await cluster?.stop();
  });

  it('welcomes at once a client whose pool never logged in (pgmux, or its worker, just started), serves its read, and holds its write until the host continues', async () => {
    const from = pgmux.logs().length;
    freezer.freeze(primary.pid);
    await logSince(from, /primary 127\.0\.0\.1:\d+ lost/);
    const since = Date.now();
    const fresh = await connect();
    expect(Date.now() - since).toBeLessThan(2000);
    expect((await fresh.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    const write = attempt(fresh, "INSERT INTO frozen VALUES ('first-login')");
    expect(await within(500, write)).toBe('pending');
    freezer.thaw();
    expect(await write).toMatchObject({ ok: true });
    expect(await count(primary, 'first-login')).toBe(1);
  });

  it('holds new writes while frozen; when it continues, the in-flight and held writes each land once, with no error', async () => {
    const inFlight = await connect();
    await inFlight.query("INSERT INTO frozen VALUES ('warm')");
    const from = pgmux.logs().length;
    freezer.freeze(primary.pid);
    // Sent at once: it goes to the pool's idle server on the frozen host, and waits there.
    const first = attempt(inFlight, "INSERT INTO frozen VALUES ('cont-inflight')");
    await logSince(from, /primary 127\.0\.0\.1:\d+ lost/);
    const held = attempt(await connect(), "INSERT INTO frozen VALUES ('cont-held')");
    expect(await within(500, held)).toBe('pending');
    // A RELOAD (SIGHUP, nothing changed) while requests are held keeps them held, not failed nor sent twice.
    const reloads = (pgmux.logs().match(/config reloaded/g) ?? []).length;
    process.kill(pgmux.pid, 'SIGHUP');
    await until('the reload', async () => (pgmux.logs().match(/config reloaded/g) ?? []).length > reloads);
    expect(await within(500, held)).toBe('pending');
    freezer.thaw();
    expect(await first).toMatchObject({ ok: true });
    expect(await held).toMatchObject({ ok: true });
    expect(await count(primary, 'cont-inflight')).toBe(1);
    expect(await count(primary, 'cont-held')).toBe(1);
  });

  it('past failover_timeout still frozen: held writes fail with no primary, and the one in flight with 08006 instead of hanging', async () => {
    await setFailoverTimeout(3);
    const inFlight = await connect();
    await inFlight.query("INSERT INTO frozen VALUES ('warm')");
    const from = pgmux.logs().length;
    freezer.freeze(primary.pid);
    const first = attempt(inFlight, "INSERT INTO frozen VALUES ('expire-inflight')");
    await logSince(from, /primary 127\.0\.0\.1:\d+ lost/);
    const held = attempt(await connect(), "INSERT INTO frozen VALUES ('expire-held')");
    expect(await within(10000, held)).toMatchObject({ ok: false, code: '08006', message: expect.stringMatching(/^no primary for database "app" after 3 s \(failover_timeout\)/) });
    const cut = await within(5000, first);
    expect(cut).toMatchObject({ ok: false, code: '08006', detail: expect.stringMatching(/has not answered a probe for failover_timeout/) });
    freezer.thaw();
    await until('the primary to be back', async () => hostRow(await hostRows(pgmux, cluster.password), primary).primary_state === 'up');
    await setFailoverTimeout(20);
    expect(await count(primary, 'expire-held')).toBe(0);
    expect(await attempt(await connect(), "INSERT INTO frozen VALUES ('expire-after')")).toMatchObject({ ok: true });
  });

  it('when the standby is promoted instead, held writes land once on it, and a transaction in flight on the frozen host fails with 08006 rather than hang', async () => {
    const prepared = await connect();
    await prepared.query({ name: 'ins', text: 'INSERT INTO frozen VALUES ($1)', values: ['prepared-before'] });
    // A LISTENing client: pgmux's listener connection is on the host about to freeze.
    const listening = await connect();
    const inbox = new Inbox(listening);
    await listening.query('LISTEN fz');
    await cluster.query(primary, "NOTIFY fz, 'before'");
    expect(await inbox.count(1, 'fz')).toEqual(['before']);
    const inTx = await connect();
    await inTx.query('BEGIN');
    await inTx.query("INSERT INTO frozen VALUES ('tx')");
    const from = pgmux.logs().length;
    freezer.freeze(primary.pid);
    const commit = attempt(inTx, 'COMMIT');
    await logSince(from, /primary 127\.0\.0\.1:\d+ lost/);
    const heldClient = await connect();
    const held = attempt(heldClient, "INSERT INTO frozen VALUES ('promoted-held')");
    // A named prepared statement, prepared on the frozen host, executed while held: prepared again on the new primary.
    const held2 = prepared.query({ name: 'ins', text: 'INSERT INTO frozen VALUES ($1)', values: ['prepared-held'] });
    await cluster.promote(standby);
    expect(await held).toMatchObject({ ok: true });
    await held2;
    expect(await count(standby, 'promoted-held')).toBe(1);
    expect(await count(standby, 'prepared-held')).toBe(1);
    // Every worker's SHOW HOSTS (each admin connection lands on one) says the same.
    for (let i = 0; i < 4 * workers; i++) {
      const rows = await hostRows(pgmux, cluster.password);
      expect({ p: hostRow(rows, standby).role, s: hostRow(rows, standby).primary_state }).toEqual({ p: 'primary', s: 'up' });
    }
    // The COMMIT sent to the frozen host: an error that says the outcome is unknown, soon after the promotion.
    const cut = await within(5000, commit);
    expect(cut).toMatchObject({ ok: false, code: '08006', message: 'server conn crashed?' });
    expect(cut === 'pending' || cut.ok ? '' : cut.detail).toMatch(/^primary moved to 127\.0\.0\.1:\d+ while this transaction ran on 127\.0\.0\.1:\d+, which is fenced now: its outcome there is unknown$/);
    expect(await count(standby, 'tx')).toBe(0);
    // The client's session goes on, on the new primary.
    const again = await connect();
    expect(await attempt(again, "INSERT INTO frozen VALUES ('after')")).toMatchObject({ ok: true });
    expect(await count(standby, 'after')).toBe(1);
    // The listener moves to the new primary: the client is warned, and hears what is sent there.
    await until('a NOTIFY on the new primary to reach the LISTENing client', async () => {
      await cluster.query(standby, "NOTIFY fz, 'after'");
      return inbox.payloads('fz').includes('after');
    });
    expect(inbox.notices.join('\n')).toMatch(/notifications sent in between may have been missed/);
    // The old primary continues: it is fenced, and takes nothing more.
    freezer.thaw();
    expect(await attempt(again, "INSERT INTO frozen VALUES ('after-thaw')")).toMatchObject({ ok: true });
    expect(await count(standby, 'after-thaw')).toBe(1);
    expect(await count(primary, 'after-thaw')).toBe(0);
  });
});
