// Specs for the HTTP listener's life (issue 13): off unless http_listen_port is set, loopback
// by default, a port it cannot have stops the start with the reason, RELOAD moves it (and
// keeps it where it was when the new port cannot be had), and /readyz says not ready once a
// database has had no primary for failover_timeout while /healthz stays live.

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePorts } from '../support/ports';
import { until } from '../routing/support';

let cluster: Cluster;
const running: PgmuxProcess[] = [];

function ini(port: number, extra: string, databases = ''): string {
  return (
    `[databases]\nplain = host=${cluster.primary.host} port=${cluster.primary.port} dbname=app\n${databases}` +
    `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    `auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\npool_mode = transaction\n${extra}`
  );
}

async function start(text: string): Promise<PgmuxProcess> {
  const p = await startPgmux(text, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  running.push(p);
  return p;
}

/** GET http://127.0.0.1:port/path: status and body, or null when nothing answers. */
async function get(port: number, path: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

async function showConfig(port: number, key: string): Promise<string> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
  await c.connect();
  try {
    const rows = (await c.query('SHOW CONFIG')).rows as { key: string; value: string }[];
    return rows.find((r) => r.key === key)?.value ?? '(missing)';
  } finally {
    await c.end();
  }
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

beforeAll(async () => {
  cluster = await startCluster();
}, 60000);

afterAll(async () => {
  for (const p of running) await p.stop();
  await cluster?.stop();
});

describe('the HTTP listener', () => {
  /** PgBouncer serves no HTTP: a PgBouncer config run unchanged must not open a port. */
  it('is off unless http_listen_port is set', async () => {
    const [port] = await freePorts(1);
    const p = await start(ini(port, ''));
    expect(await showConfig(port, 'http_listen_port')).toBe('0');
    expect(p.logs()).not.toContain('HTTP listening');
  });

  it('listens on loopback when only the port is set', async () => {
    const [port, http] = await freePorts(2);
    const p = await start(ini(port, `http_listen_port = ${http}\n`));
    await p.waitForLog(new RegExp(`HTTP listening on 127\\.0\\.0\\.1:${http} `));
    expect(await get(http, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await get(http, '/nope'))?.status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${http}/metrics`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  /** A monitoring port silently missing is found out at the worst moment: refuse to start instead. */
  it('stops the start with the reason when its port cannot be had', async () => {
    const [port, http] = await freePorts(2);
    const blocker = await occupy(http);
    try {
      const err = await start(ini(port, `http_listen_port = ${http}\n`)).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(new RegExp(`cannot listen for HTTP on 127\\.0\\.0\\.1:${http} \\(http_listen_addr, http_listen_port\\): listen EADDRINUSE`));
      // Nothing was taken: the pooler's own port was never opened.
      expect(await get(port, '/')).toBeNull();
    } finally {
      blocker.close();
    }
  });

  it('moves on RELOAD, and stays where it was when the new port cannot be had', async () => {
    const [port, http1, http2, http3] = await freePorts(4);
    const p = await start(ini(port, `http_listen_port = ${http1}\n`));
    const reload = async (extra: string): Promise<void> => {
      writeFileSync(join(p.dir, 'pgmux.ini'), ini(port, extra));
      process.kill(p.pid, 'SIGHUP');
    };
    await reload(`http_listen_port = ${http2}\n`);
    await p.waitForLog(new RegExp(`HTTP listening on 127\\.0\\.0\\.1:${http2} `));
    await until('the old port to close', async () => (await get(http1, '/healthz')) === null);
    expect((await get(http2, '/healthz'))?.status).toBe(200);
    const blocker = await occupy(http3);
    try {
      await reload(`http_listen_port = ${http3}\n`);
      await p.waitForLog(new RegExp(`cannot listen for HTTP on 127\\.0\\.0\\.1:${http3} .*; the HTTP listener stays as it was`));
      expect((await get(http2, '/healthz'))?.status).toBe(200);
    } finally {
      blocker.close();
    }
    await reload('');
    await until('the listener to close when turned off', async () => (await get(http2, '/healthz')) === null);
  });

  /** Orchestrators take a pod out of rotation on /readyz, and restart it only on /healthz. */
  it('says not ready when a database has no primary after failover_timeout, and stays live', async () => {
    const [port, http, dead1, dead2] = await freePorts(4);
    const p = await start(ini(port, `http_listen_port = ${http}\nfailover_timeout = 1\n`, `gone = host=127.0.0.1,127.0.0.1 port=${dead1},${dead2} dbname=app\n`));
    let ready: { status: number; body: string } | null = null;
    await until('readyz to say not ready', async () => {
      ready = await get(http, '/readyz');
      return ready?.status === 503;
    });
    expect(ready).toEqual({ status: 503, body: `not ready: database gone has no primary (failover_timeout passed; hosts 127.0.0.1:${dead1}, 127.0.0.1:${dead2})\n` });
    expect(await get(http, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(p.logs()).toContain('database gone');
  });
});
