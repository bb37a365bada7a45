// Spec-driven fuzzer of pgmux's client side (issue 7, "Fuzzing"): fast-check throws malformed and
// truncated frames, wrong lengths and random message sequences at the startup, auth and query
// phases of a running pgmux (transaction, session and statement pools, md5, SCRAM and cleartext
// logins), delivered in random chunks and ended by FIN or RST. After every case the process must
// be alive and a FIN must have closed the connection; every 50 cases a bystander client that sits
// in an open transaction must still answer; at the end SHOW CLIENTS and SHOW POOLS must be back
// to the baseline (no leaked client or server slot).
//
// `npm test` runs a short fixed-seed pass. A long run:
//   PGMUX_FUZZ_RUNS=100000 npx jest spec/fuzz --runInBand     (runs per phase; PGMUX_FUZZ_SEED=n to vary)

import * as net from 'node:net';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { userlistLine } from '../client/support/setup';
import { pgConnect, pollUntil, show } from '../auth-hba/support';
import { authCase, delivery, queryCase, startupBytes, typed, untyped, type Delivery } from './frames';

const RUNS = Number(process.env.PGMUX_FUZZ_RUNS ?? 0);
const SEED = Number(process.env.PGMUX_FUZZ_SEED ?? 20261123);
/** Cases per phase: the short pass keeps the file well under 30 s on a loaded 2-core machine. */
const PER_PHASE = { startup: RUNS || 800, auth: RUNS || 800, query: RUNS || 500 };
/** A FIN must close the connection within this; anything longer is a hang. */
const CLOSE_DEADLINE_MS = 10000;

let cluster: Cluster;
let mux: PgmuxProcess;
let bystander: Client;
let baseline: Snapshot;
let cases = 0;

interface Snapshot {
  clients: number;
  pools: string[];
}

/** Client count and each pool's client and active-server counts, from the admin console. */
async function snapshot(): Promise<Snapshot> {
  const clients = (await show(mux.port, 'CLIENTS')).length;
  const pools = (await show(mux.port, 'POOLS'))
    .filter((p) => p.database !== 'pgbouncer')
    .map((p) => `${p.database}/${p.user} cl_active=${p.cl_active} cl_waiting=${p.cl_waiting} sv_active=${p.sv_active} sv_login=${p.sv_login}`)
    .filter((line) => !/cl_active=0 cl_waiting=0 sv_active=0 sv_login=0$/.test(line));
  return { clients, pools };
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE fuzz_sink (x text); GRANT ALL ON fuzz_sink TO PUBLIC');
  const port = await freePort();
  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  const pw = cluster.password;
  mux = await startPgmux(
    `[databases]
app = ${server}
app_session = ${server} pool_mode=session
app_statement = ${server} pool_mode=statement

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
admin_users = admin
pool_mode = transaction
max_client_conn = 500
client_login_timeout = 5
log_connections = 0
log_disconnections = 0
log_pooler_errors = 0
`,
    {
      'hba.conf': 'host all app_md5,admin 127.0.0.1/32 md5\nhost all app_plain 127.0.0.1/32 password\nhost all all 127.0.0.1/32 scram-sha-256\n',
      'userlist.txt': userlistLine('app_md5', pw) + userlistLine('app', pw) + userlistLine('app_plain', pw) + userlistLine('admin', 'admin-pw'),
    },
  );
  bystander = await pgConnect({ port }, 'app_md5', pw, 'app');
  await bystander.query('BEGIN');
  await bystander.query('SELECT 1');
  baseline = await snapshot();
});

afterAll(async () => {
  await bystander?.query('COMMIT').catch(() => undefined);
  await bystander?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

/** One fuzz connection: whole frames read off it on demand, everything else drained. */
class FuzzConn {
  private buf: Buffer = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length > 65536 ? c : Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(port: number): Promise<FuzzConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new FuzzConn(socket)));
      socket.once('error', reject);
    });
  }

  /** The next frame of `type`, skipping others; null if the connection closes first. */
  async frame(type: string, timeoutMs = 10000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.buf.length >= 5 && this.buf.length >= this.buf.readInt32BE(1) + 1) {
        const len = this.buf.readInt32BE(1);
        const t = String.fromCharCode(this.buf[0]!);
        const body = this.buf.subarray(5, len + 1);
        this.buf = this.buf.subarray(len + 1);
        if (t === type) return body;
      }
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error(`no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Writes `bytes` as `d` says (cut, chunked), then FIN and wait for pgmux to close, or RST. */
  async deliver(bytes: Buffer, d: Delivery): Promise<void> {
    const kept = bytes.subarray(0, Math.floor(bytes.length * d.keep));
    let pos = 0;
    for (let i = 0; pos < kept.length && !this.closed; i++) {
      const size = d.chunks[i % d.chunks.length]!;
      this.socket.write(kept.subarray(pos, pos + size));
      pos += size;
      // Let pgmux see each chunk on its own now and then.
      if (i % 2 === 1) await new Promise((r) => setImmediate(r));
    }
    if (d.ending === 'destroy') {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    await pollUntil(() => this.closed, 'pgmux to close the connection after FIN', CLOSE_DEADLINE_MS);
  }
}

const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const startup = (user: string, database: string): Buffer =>
  untyped(Buffer.concat([Buffer.from([0, 3, 0, 0]), cstr('user'), cstr(user), cstr('database'), cstr(database), Buffer.from([0])]));

function md5Answer(user: string, password: string, salt: Buffer): Buffer {
  const inner = createHash('md5').update(password + user).digest('hex');
  return typed(0x70, cstr(`md5${createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex')}`));
}

/** After each case: pgmux alive; every 50 cases also the bystander answers inside its transaction. */
async function checkHealth(): Promise<void> {
  cases++;
  expect(() => process.kill(mux.pid, 0)).not.toThrow();
  if (cases % 50 === 0) {
    const r = await bystander.query<{ s: string }>("SELECT 'alive' AS s");
    expect(r.rows[0]!.s).toBe('alive');
  }
}

const params = (runs: number): fc.Parameters<unknown> => ({ numRuns: runs, seed: SEED });

/** Long runs need long timeouts; the short pass keeps jest's default budget. */
const timeout = (runs: number): number => Math.max(60000, runs * 100);

describe('fuzzing pgmux', () => {
  it(`survives ${PER_PHASE.startup} malformed startup-phase streams: random packets, lengths, versions, SSL/GSS/cancel requests, noise (catches: a crash or hang before login)`, async () => {
    await fc.assert(
      fc.asyncProperty(startupBytes, delivery, async (packets, d) => {
        const c = await FuzzConn.open(mux.port);
        await c.deliver(Buffer.concat(packets), d);
        await checkHealth();
      }),
      params(PER_PHASE.startup),
    );
  }, timeout(PER_PHASE.startup));

  it(`survives ${PER_PHASE.auth} malformed auth exchanges: md5, SCRAM and cleartext answers with wrong shapes, lengths and order (catches: a crash or slot leak in authentication)`, async () => {
    await fc.assert(
      fc.asyncProperty(authCase, delivery, async (a, d) => {
        const c = await FuzzConn.open(mux.port);
        c.socket.write(startup(a.user, 'app'));
        if (a.waitForChallenge) await c.frame('R');
        await c.deliver(Buffer.concat(a.messages), d);
        await checkHealth();
      }),
      params(PER_PHASE.auth),
    );
  }, timeout(PER_PHASE.auth));

  it(`survives ${PER_PHASE.query} random message sequences after a good login, in every pool mode (catches: a crash, a hang or a server slot kept by a broken client)`, async () => {
    await fc.assert(
      fc.asyncProperty(queryCase, delivery, async (q, d) => {
        const c = await FuzzConn.open(mux.port);
        c.socket.write(startup('app_md5', q.database));
        const challenge = await c.frame('R');
        expect(challenge?.readInt32BE(0)).toBe(5);
        c.socket.write(md5Answer('app_md5', cluster.password, challenge!.subarray(4, 8)));
        if (!q.pipelined) expect(await c.frame('Z')).not.toBeNull();
        await c.deliver(Buffer.concat(q.messages), d);
        await checkHealth();
      }),
      params(PER_PHASE.query),
    );
  }, timeout(PER_PHASE.query));

  it('is back to the baseline afterwards: same clients, no client or server slot held, bystander commits (catches: leaked connection slots)', async () => {
    // Connections ended by RST are noticed by pgmux a little later than the case ended.
    await pollUntil(async () => JSON.stringify(await snapshot()) === JSON.stringify(baseline), 'SHOW CLIENTS / SHOW POOLS to return to the baseline', 15000).catch(
      async (err: Error) => {
        expect(await snapshot()).toEqual(baseline);
        throw err;
      },
    );
    await expect(bystander.query('COMMIT')).resolves.toBeDefined();
    await bystander.query('BEGIN');
    expect(() => process.kill(mux.pid, 0)).not.toThrow();
    process.stdout.write(`fuzz: ${cases} cases (seed ${SEED})\n`);
  });
});
