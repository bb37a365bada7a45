// LISTEN/NOTIFY in transaction pooling across a failover (issue 14): a database with two
// candidate hosts (`host=P,S port=p,s`); the primary stops, the standby is promoted, and pgmux's
// listener connection comes back on the new primary with every channel, the listening clients
// are warned that notifications may have been missed meanwhile, and NOTIFYs on the new primary
// (direct, and through pgmux) reach them. What runs where is read from each server's
// pg_stat_activity.

import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { Inbox } from './support';

jest.setTimeout(90000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const clients: Client[] = [];

async function connect(): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: 'app' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function listeners(node: PgNode): Promise<number> {
  const r = await cluster.query(node, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgmux listener'");
  return Number(r.rows[0]?.n);
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  primary = cluster.primary;
  if (cluster.replica === undefined) throw new Error('no replica');
  standby = cluster.replica;
  const port = await freePort();
  const ini =
    '[databases]\n' +
    `app = host=127.0.0.1,127.0.0.1 port=${primary.port},${standby.port} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = scram-sha-256\nauth_file = userlist.txt\n' +
    'pool_mode = transaction\ndefault_pool_size = 2\nreplica_lag_poll_interval = 0.05\nfailover_timeout = 30\nquery_wait_timeout = 60\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 120000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('LISTEN across a failover', () => {
  it('the listener connection moves to the promoted standby with its channels; clients are warned and get later notifications (catches: listeners deaf after failover, or listening on a standby)', async () => {
    const a = await connect();
    const b = await connect();
    const sender = await connect();
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    await a.query('LISTEN fo_a');
    await b.query('LISTEN fo_b; LISTEN fo_a');
    expect(await listeners(primary)).toBe(1);
    await sender.query("NOTIFY fo_a, 'before'");
    expect(await inA.count(1, 'fo_a')).toEqual(['before']);

    await cluster.stopNode(primary, 'fast');
    await cluster.promote(standby);
    await waitFor('the listener on the new primary', async () => (await listeners(standby)) === 1, 30000);
    await waitFor('the warning at both clients', () => inA.notices.length > 0 && inB.notices.length > 0, 30000);
    expect(inA.notices[0]).toMatch(/notifications sent in between may have been missed/);

    // Straight to the new primary, and through pgmux (whose pools moved there too).
    await cluster.query(standby, "NOTIFY fo_a, 'direct-after'");
    await sender.query("NOTIFY fo_b, 'pgmux-after'");
    expect(await inA.count(2, 'fo_a')).toEqual(['before', 'direct-after']);
    expect(await inB.count(1, 'fo_b')).toEqual(['pgmux-after']);
    expect(inB.payloads('fo_a')).toEqual(['before', 'direct-after']);
    const chans = await b.query<{ c: string }>('SELECT pg_listening_channels() AS c');
    expect(chans.rows.map((r) => r.c)).toEqual(['fo_b', 'fo_a']);
  });
});
