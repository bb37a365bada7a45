// Specs for the live status page (issue 13) in a real browser: Debian's chromium driven by
// playwright-core, while clients run queries through pgmux to a real primary and streaming
// replica. The page must show the pools and hosts, redraw itself with new numbers while open,
// answer the route box as SHOW ROUTE would, and fetch nothing but pgmux's own URLs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePorts } from '../support/ports';
import { until } from '../routing/support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
let http: number;
let replicaHost: string;
let browser: BrowserContext;
let profile: string;
let page: Page;
const requested: string[] = [];

/** Clients running queries until stop() (each loop bounded in time too). */
function load(database: string, clients: number): { stop: () => Promise<void> } {
  let running = true;
  const deadline = Date.now() + 120_000;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database, application_name: `load-${i}` });
    await c.connect();
    try {
      while (running && Date.now() < deadline) await c.query('SELECT count(*) FROM pg_class WHERE relpages >= $1', [i]);
    } finally {
      await c.end();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(cluster.primary, 'CREATE TABLE mt (id int); GRANT ALL ON mt TO app');
  await cluster.waitForReplay();
  [port, http] = await freePorts(2);
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  replicaHost = `${replica.host}:${replica.port}`;
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const ini =
    `[databases]\napp = ${server} replicas=${replicaHost}\nplain = ${server}\n` +
    `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\npool_mode = transaction\ndefault_pool_size = 3\n' +
    `replica_lag_poll_interval = 0.05\nhttp_listen_port = ${http}\n`;
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  // A fresh profile: no state from another run, no sync, no component updates, no first-run UI.
  profile = mkdtempSync(join(tmpdir(), 'pgmux-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage();
  page.on('request', (r) => requested.push(r.url()));
}, 90000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await pgmux?.stop();
  await cluster?.stop();
});

/** The little of the DOM these specs read inside the page (the specs compile without the DOM's types). */
interface Browser {
  document: {
    body: { dataset: Record<string, string | undefined> };
    getElementById(id: string): { textContent: string | null } | null;
    querySelector(selector: string): unknown;
  };
}

const refreshes = (): Promise<number> => page.evaluate(() => Number((globalThis as unknown as Browser).document.body.dataset.refreshes));

describe('GET /status in a browser', () => {
  it('shows the pools and hosts, and redraws with new numbers while open', async () => {
    const traffic = load('app', 4);
    const plain = load('plain', 2);
    try {
      await page.goto(`http://127.0.0.1:${http}/status`);
      await page.waitForFunction(() => Number((globalThis as unknown as Browser).document.body.dataset.refreshes) >= 1);
      // Pools by SHOW POOLS' names, the replica's own pool included, once clients have logged in.
      await page.waitForFunction((replica) => {
        const text = (globalThis as unknown as Browser).document.getElementById('pools')?.textContent ?? '';
        return text.includes('plain') && text.includes(`app@${replica}`);
      }, replicaHost);
      const hosts = (await page.textContent('#backends')) ?? '';
      expect(hosts).toContain(`${cluster.primary.host}:${cluster.primary.port}`);
      expect(hosts).toContain(replicaHost);
      expect(hosts).toContain('standby');
      // It fetches again by itself, and the throughput chart gets points with traffic in them.
      const first = await refreshes();
      await page.waitForFunction((n) => Number((globalThis as unknown as Browser).document.body.dataset.refreshes) >= n + 2, first, { timeout: 15000 });
      await page.waitForFunction(() => {
        const legend = (globalThis as unknown as Browser).document.getElementById('chart-rate-legend')?.textContent ?? '';
        const m = /requests\/s: ([\d,.]+)/.exec(legend);
        return (globalThis as unknown as Browser).document.querySelector('#chart-rate polyline') !== null && m !== null && Number(m[1].replace(/,/g, '')) > 0;
      }, undefined, { timeout: 15000 });
      const fingerprints = (await page.textContent('#fingerprints')) ?? '';
      expect(fingerprints).toContain('select count(*) from pg_class where relpages >= ?');
      await page.screenshot({ path: join(tmpdir(), 'pgmux-status-page.png'), fullPage: true });
    } finally {
      await traffic.stop();
      await plain.stop();
    }
  });

  /** The route box is SHOW ROUTE for a person: the same answer, per routed database. */
  it('answers the route box', async () => {
    await until('the replica to take reads', async () => {
      const status = (await (await fetch(`http://127.0.0.1:${http}/status.json`)).json()) as { databases: { name: string; hosts: { host: string; readState: string | null }[] }[] };
      return status.databases.some((d) => d.name === 'app' && d.hosts.some((h) => h.host === replicaHost && h.readState === 'up'));
    });
    await page.fill('#route-sql', 'SELECT * FROM mt WHERE id = 1');
    await page.click('#route-button');
    await page.waitForSelector('#route-table');
    const read = (await page.textContent('#route-table')) ?? '';
    expect(read).toContain('app');
    expect(read).toContain('replica');
    expect(read).toContain('replica: plain select');
    await page.fill('#route-sql', 'INSERT INTO mt VALUES (1)');
    await page.click('#route-button');
    await page.waitForFunction(() => ((globalThis as unknown as Browser).document.getElementById('route-table')?.textContent ?? '').includes('primary: INSERT'));
  });

  /** An isolated host has no CDN: everything the page needs comes from pgmux. */
  it('fetches nothing but pgmux itself', () => {
    expect(requested.length).toBeGreaterThan(2);
    for (const url of requested) expect(url.startsWith(`http://127.0.0.1:${http}/`)).toBe(true);
  });
});
