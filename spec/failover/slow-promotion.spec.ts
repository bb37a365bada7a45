// Failover drill with a new primary that comes slowly: the primary stops and the standby is
// promoted only PROMOTE_DELAY_MS later (a failover manager waiting out its own timeouts). While
// requests are held within failover_timeout pgmux is ready (GET /readyz 200: "ready when every
// database has a reachable primary, or held clients are within failover_timeout"), and the held
// writes run once the promotion is done. Past failover_timeout with no primary it says not ready
// (503), and ready again as soon as a primary answers. /readyz is sampled all along.

import type { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { until } from '../routing/support';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts, WHERE } from './two-host-pgmux';

jest.setTimeout(120000);

const FAILOVER_TIMEOUT_S = 8;
/** How long after the stop the standby is promoted: well inside failover_timeout. */
const PROMOTE_DELAY_MS = 4000;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let httpPort: number;
const clients = new AppClients(() => cluster);
const connect = (): Promise<Client> => clients.connect(pgmux.port);
const hosts = (): Promise<Record<string, unknown>[]> => hostRows(pgmux, cluster.password);

/** GET /readyz every 50 ms until stopped: what it said, and when the answer came (it reflects pgmux's state before then). */
class Readiness {
  readonly samples: { at: number; status: number; body: string }[] = [];
  private stopped = false;
  private done: Promise<void> | null = null;

  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
        const body = await res.text();
        this.samples.push({ at: Date.now(), status: res.status, body });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** The samples taken in [from, to). */
  between(from: number, to: number): { at: number; status: number; body: string }[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE slow (who text NOT NULL); GRANT ALL ON slow TO app');
  ({ cluster, primary, standby } = pair);
  httpPort = await freePort();
  pgmux = await startTwoHosts(pair, `failover_timeout = ${FAILOVER_TIMEOUT_S}\nquery_wait_timeout = 60\nhttp_listen_port = ${httpPort}\n`);
}, 120000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a promotion that takes a while', () => {
  it(`is ready while writes are held within failover_timeout (${FAILOVER_TIMEOUT_S} s), and the held writes run once the standby is promoted ${PROMOTE_DELAY_MS} ms after the stop`, async () => {
    await until('the primary found', async () => hostRow(await hosts(), primary).state === 'primary');
    const idle = await Promise.all([connect(), connect(), connect()]);
    const ready = new Readiness();
    ready.start();
    await cluster.stopNode(primary, 'fast');
    const stoppedAt = Date.now();
    await until('pgmux to hold', async () => hostRow(await hosts(), standby).primary_state === 'searching');
    const doneAt: number[] = [];
    const writes = idle.map((c, i) =>
      c.query(`INSERT INTO slow VALUES ('held-${i}') RETURNING ${WHERE}`).then((r) => {
        doneAt.push(Date.now());
        return r.rows[0];
      }),
    );
    await until('the writes held', async () => Number(hostRow(await hosts(), standby).held) >= idle.length);
    // The slow part: the failover manager promotes only now.
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + PROMOTE_DELAY_MS - Date.now())));
    const promotingAt = Date.now();
    await cluster.promote(standby);
    expect(await Promise.all(writes)).toEqual(idle.map(() => ({ hs: 'off', p: standby.port })));
    const last = Math.max(...doneAt);
    await ready.stop();
    process.stdout.write(
      `slow promotion: ${idle.length} writes held ${last - stoppedAt} ms after the stop (promotion began at ${promotingAt - stoppedAt} ms), ` +
        `released ${last - promotingAt} ms after pg_ctl promote began; /readyz sampled ${ready.samples.length} times, ${ready.samples.filter((s) => s.status !== 200).length} not ready\n`,
    );
    expect(last - promotingAt).toBeLessThan(1000);
    // Held within failover_timeout all along: never not ready.
    expect(ready.samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(ready.between(stoppedAt, promotingAt).length).toBeGreaterThan(10);
    const rows = (await cluster.query(standby, 'SELECT who FROM slow ORDER BY who')).rows.map((r) => r.who);
    expect(rows).toEqual(['held-0', 'held-1', 'held-2']);
  });

  it('says not ready only once failover_timeout has passed without a primary, and ready again when the primary is back', async () => {
    const c = await connect();
    const ready = new Readiness();
    ready.start();
    // Before the stop: an immediate shutdown drops pgmux's connections (and starts its search) before the postmaster has exited.
    const stoppedAt = Date.now();
    await cluster.stopNode(standby, 'immediate');
    await until('pgmux to hold', async () => hostRow(await hosts(), standby).primary_state !== 'up');
    const held = c.query("INSERT INTO slow VALUES ('never')").then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    const err = await held;
    const failedAt = Date.now();
    expect(err?.code).toBe('08006');
    await until('/readyz to say not ready', async () => ready.samples.some((s) => s.status === 503));
    await cluster.startNode(standby);
    const upAt = Date.now();
    await until('/readyz to say ready again', async () => ready.samples.some((s) => s.at > upAt && s.status === 200));
    await ready.stop();
    const first503 = ready.samples.find((s) => s.status === 503)!;
    const last503 = [...ready.samples].reverse().find((s) => s.status === 503)!;
    process.stdout.write(
      `no primary: held write failed ${failedAt - stoppedAt} ms after the stop; /readyz first 503 at ${first503.at - stoppedAt} ms, ` +
        `ready again ${ready.samples.find((s) => s.at > last503.at)!.at - upAt} ms after the primary was up\n`,
    );
    // Ready through the whole of failover_timeout (pgmux's search begins after the stop began).
    expect(ready.between(stoppedAt, stoppedAt + FAILOVER_TIMEOUT_S * 1000).filter((s) => s.status !== 200)).toEqual([]);
    expect(first503.body).toBe(`not ready: database app has no primary (failover_timeout passed; hosts 127.0.0.1:${primary.port}, 127.0.0.1:${standby.port})\n`);
    expect(hostRow(await hosts(), standby)).toMatchObject({ state: 'primary', primary_state: 'up' });
    // The 08006 ended the client's connection (as a lost server would); a new one writes.
    expect((await (await connect()).query(`INSERT INTO slow VALUES ('back') RETURNING ${WHERE}`)).rows[0]).toEqual({ hs: 'off', p: standby.port });
  });
});
