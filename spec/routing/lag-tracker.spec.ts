// Specs of the lag tracker on a real PostgreSQL 15 primary + streaming replica: lag 0 when caught
// up; replay paused on the replica (pg_wal_replay_pause) with writes on the primary → lag grows
// and the replica is marked lagging (by bytes and by time), resumed → up again; a read after a
// write waits for the replica's replay position and is woken by the next poll; the replica
// stopped → down with the circuit breaker's growing retry delay, restarted → up; a primary
// configured as a replica → wrong-role; refused connections and bad passwords → down. Nothing
// sleeps a fixed time: every step awaits tracker events (or a polled condition) with a deadline.

import type { HostEntry, LagLimit } from '../../lib/config';
import { defaultSettings, NO_LAG_LIMIT } from '../../lib/config';
import type { LagTracker, TrackerEvent } from '../../lib/routing/lag-tracker';
import { MONITOR_APPLICATION_NAME, type MonitorLogin } from '../../lib/routing/monitor';
import { Backends } from '../../lib/failover/backends';
import { Topology, type TopologyEvents } from '../../lib/failover/topology';
import { formatLsn, parseLsn, type Lsn } from '../../lib/routing/lsn';
import type { ReplicaStatus } from '../../lib/routing/replicas';
import { route, type RouteContext, type WriteLsn } from '../../lib/routing/route';
import type { Classification } from '../../lib/routing/classify-types';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { freePort } from '../support/ports';

jest.setTimeout(60000);

/** Fast polls keep the spec quick; the logic does not depend on the value. */
const POLL_S = 0.05;
const DEADLINE_MS = 20000;

let cluster: Cluster;
let replica: PgNode;
/** Each spec's probes: its own Backends (the timer and connections) and the database's topology. */
const running: { backends: Backends; topology: Topology }[] = [];

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  if (cluster.replica === undefined) throw new Error('no replica');
  replica = cluster.replica;
  await cluster.query(cluster.primary, 'CREATE TABLE lag_t (id int, pad text)', 'app');
  await cluster.waitForReplay();
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.topology.stop();
    r.backends.stop();
  }
  // A failed spec must not leave replay paused for the next one.
  await cluster.query(replica, 'SELECT pg_wal_replay_resume()').catch(() => undefined);
});

afterAll(async () => {
  await cluster?.stop();
});

interface TrackerOptions {
  /** The database's hosts; by default the replica first (index 0), then the primary. */
  hosts: HostEntry[];
  login: () => MonitorLogin;
  maxLag: LagLimit;
  pollInterval: number;
}

const NO_EVENTS: TopologyEvents = { primaryFound: () => undefined, primaryLost: () => undefined, searchFailed: () => undefined };

function host(node: { host: string; port: number }): HostEntry {
  return { host: node.host, port: node.port, weight: 1, zone: '' };
}

/** The lag tracker of a database with these hosts, fed by real probes (lib/failover), as pgmux runs it. */
function tracker(overrides: Partial<TrackerOptions> = {}): LagTracker {
  return topology(overrides).tracker;
}

function topology(overrides: Partial<TrackerOptions> = {}): Topology {
  const pollInterval = overrides.pollInterval ?? POLL_S;
  const backends = new Backends({ ...defaultSettings(), replica_lag_poll_interval: pollInterval, server_connect_timeout: 5 });
  const t = new Topology(
    {
      name: 'app',
      hosts: overrides.hosts ?? [host(replica), host(cluster.primary)],
      unixSocketDir: '/tmp',
      failoverTimeout: () => 30,
      pollInterval,
      maxLag: overrides.maxLag ?? NO_LAG_LIMIT,
      login: overrides.login ?? (() => ({ user: 'app', database: 'app', credential: { kind: 'secret', secret: { kind: 'plain', password: cluster.password } } })),
    },
    backends,
    NO_EVENTS,
  );
  backends.start();
  running.push({ backends, topology: t });
  return t;
}

function describeStatus(t: LagTracker): string {
  const r = (s: ReplicaStatus) =>
    `${s.address.host}:${s.address.port} ${s.state} (${s.reason}) replay=${s.replayLsn === null ? 'null' : formatLsn(s.replayLsn)} lagBytes=${s.lagBytes} lagSeconds=${s.lagSeconds} failures=${s.failures}`;
  const p = t.primary;
  return `primary ${p.state} (${p.reason}) lsn=${p.lsn === null ? 'null' : formatLsn(p.lsn)}; replicas: ${t.replicas.map(r).join('; ')}`;
}

/** Resolves at the first tracker event after which `cond` holds (or at once); rejects at the deadline. */
function until(t: LagTracker, what: string, cond: () => boolean, ms = DEADLINE_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}: ${describeStatus(t)}`));
    }, ms);
    const off = t.on(() => {
      if (!cond()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Re-checks an async condition with a backoff up to 50 ms until it holds or the deadline passes. */
async function pollUntil(what: string, cond: () => Promise<boolean>, ms = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  let delay = 5;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** `p`, or a rejection naming `what` at the deadline. */
async function within<T>(p: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function pauseReplay(): Promise<void> {
  await cluster.query(replica, 'SELECT pg_wal_replay_pause()');
  // The request takes effect at the next record replayed; only 'paused' means it has.
  await pollUntil('replay to pause', async () => {
    const r = await cluster.query(replica, 'SELECT pg_get_wal_replay_pause_state() AS s');
    return r.rows[0]?.s === 'paused';
  });
}

/** Commits `rows` padded rows on the primary and returns pg_current_wal_lsn() after the commit. */
async function write(rows: number): Promise<Lsn> {
  await cluster.query(cluster.primary, `INSERT INTO lag_t SELECT g, repeat('x', 200) FROM generate_series(1, ${rows}) g`, 'app');
  const r = await cluster.query(cluster.primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
  const lsn = parseLsn(String(r.rows[0]?.lsn));
  if (lsn === undefined) throw new Error('no LSN');
  return lsn;
}

const SELECT: Classification = { target: 'replica', reason: 'replica: plain select', tier: 'lexer' };

function ctx(t: LagTracker, writeLsn: WriteLsn, waitExpired = false): RouteContext {
  return {
    statement: SELECT,
    tx: 'idle',
    sessionRoute: 'auto',
    pins: [],
    replicas: t.replicas,
    readYourWrites: 'connection',
    writeLsn,
    waitExpired,
    replicaOnly: false,
  };
}

describe('a caught-up replica', () => {
  /** The baseline every other case departs from: a healthy, idle pair shows no lag at all. */
  it('is up with lag 0 bytes, 0 seconds, and its replay position is the primary\'s', async () => {
    const t = tracker();
    await until(t, 'the replica to be up and caught up', () => t.replicas[0].state === 'up' && t.replicas[0].lagBytes === 0);
    const r = t.replicas[0];
    // At (or, if the primary wrote between the two polls, past) the primary's polled position.
    expect((r.replayLsn ?? 0n) >= (t.primary.lsn ?? 1n)).toBe(true);
    expect(t.primary.state).toBe('up');
    expect(r.lagSeconds).toBe(0);
    expect(r.reason).toBe('caught up');
    // The primary may have written WAL of its own since (standby snapshots), never less.
    const p = await cluster.query(cluster.primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
    expect((r.replayLsn ?? 0n) <= (parseLsn(String(p.rows[0]?.lsn)) ?? 0n)).toBe(true);
    expect(r.replayLsn ?? 0n).toBeGreaterThan(0n);
  });

  /**
   * now() - pg_last_xact_replay_timestamp() keeps growing while the primary is idle; a tracker
   * that used it as "lag" would take a caught-up replica out of rotation after a quiet spell.
   */
  it('shows 0 lag seconds even though the last replayed commit is old', async () => {
    const t = tracker();
    // Caught up (the primary writes a little WAL of its own now and then: wait for a poll where
    // the replica has all of it), with the last replayed commit older than 0.2 s.
    await until(t, 'a caught-up poll with the replay timestamp older than 0.2 s', () => (t.replicas[0].replayTimestampAge ?? 0) > 0.2 && t.replicas[0].lagBytes === 0);
    expect(t.replicas[0].lagSeconds).toBe(0);
    expect(t.replicas[0].state).toBe('up');
  });
});

describe('replay paused on the replica', () => {
  /** Lag by bytes: WAL piles up on the primary while the replica does not replay it. */
  it('grows the byte lag, marks the replica lagging beyond max_replica_lag, and brings it back when resumed', async () => {
    const limit: LagLimit = { bytes: 64 * 1024, seconds: null };
    const t = tracker({ maxLag: limit });
    await until(t, 'up', () => t.replicas[0].state === 'up');
    const events: TrackerEvent[] = [];
    t.on((e) => {
      if (e.kind === 'replica-state' && e.index === 0) events.push(e);
    });
    await pauseReplay();
    const written = await write(2000);
    await until(t, 'the replica to be marked lagging', () => t.replicas[0].state === 'lagging');
    const r = t.replicas[0];
    expect(r.lagBytes).toBeGreaterThan(64 * 1024);
    expect(r.replayLsn).not.toBeNull();
    expect((r.replayLsn ?? 0n) < written).toBe(true);
    expect(r.reason).toMatch(/^replay \d+ bytes behind \(max_replica_lag 65536 bytes\)$/);

    await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    await until(t, 'the replica to be up again', () => t.replicas[0].state === 'up');
    expect(t.replicas[0].lagBytes ?? Infinity).toBeLessThanOrEqual(32 * 1024);
    expect(events.map((e) => (e.kind === 'replica-state' ? `${e.from}->${e.to}` : ''))).toEqual(['up->lagging', 'lagging->up']);
  });

  /** Lag by time: a small write that stays unreplayed longer than the time limit. */
  it('marks the replica lagging once unreplayed WAL is older than the time limit', async () => {
    const t = tracker({ maxLag: { bytes: null, seconds: 0.5 } });
    await until(t, 'up', () => t.replicas[0].state === 'up');
    await pauseReplay();
    // Taken before the write starts: the tracker cannot have seen its WAL any earlier.
    const wroteAt = Date.now();
    await write(1);
    await until(t, 'the replica to be marked lagging by time', () => t.replicas[0].state === 'lagging');
    // The time lag is measured, not guessed: it cannot fire before the limit has passed.
    expect(Date.now() - wroteAt).toBeGreaterThanOrEqual(500);
    expect(t.replicas[0].lagSeconds).toBeGreaterThan(0.5);
    expect(t.replicas[0].reason).toMatch(/^replay \d+\.\d{3} s behind \(max_replica_lag 0\.5 s\)$/);
    await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    await until(t, 'up again', () => t.replicas[0].state === 'up' && t.replicas[0].lagSeconds === 0);
  });

  /**
   * Read-your-writes end to end: a read after a write waits (the replica is up but has not
   * replayed it), is woken by the next poll (no timer of its own), and goes to the replica once
   * the replica's replay position reaches the write; the row is then visible there.
   */
  it('makes a read after a write wait, woken by polls, until the replica has replayed it', async () => {
    const t = tracker();
    await until(t, 'up', () => t.replicas[0].state === 'up');
    await pauseReplay();
    const written = await write(1);
    await until(t, 'a poll after the write', () => t.primary.lsn !== null && t.primary.lsn >= written);
    expect(route(ctx(t, written))).toEqual({ kind: 'wait', until: written, reason: 'wait: replica behind your write' });
    expect(t.replicas[0].state).toBe('up');
    // The wait's expiry sends the read to the primary.
    expect(route(ctx(t, written, true))).toEqual({ kind: 'primary', reason: 'primary: replica too stale' });

    // A waiter is woken by polls only, and waits again while the replica is behind.
    let wakes = 0;
    let decided: ReturnType<typeof route> | undefined;
    const done = new Promise<void>((resolve) => {
      const waiter = {
        pollWake() {
          wakes++;
          const d = route(ctx(t, written));
          if (d.kind === 'wait') t.wakeOnPoll(waiter);
          else {
            decided = d;
            resolve();
          }
        },
      };
      t.wakeOnPoll(waiter);
    });
    await until(t, 'three polls while paused', () => wakes >= 3);
    expect(decided).toBeUndefined();
    await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    await within(done, 'the waiting read to be routed after resume');
    expect(decided).toEqual({ kind: 'replica', replicas: 1, reason: 'replica: plain select' });
    const seen = await cluster.query(replica, 'SELECT count(*)::int AS n FROM lag_t', 'app');
    const onPrimary = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM lag_t', 'app');
    expect(seen.rows[0]?.n).toBe(onPrimary.rows[0]?.n);
  });

  /**
   * The write fence: a position polled from the primary after a commit was acknowledged is at or
   * past that commit, so the commit's position is known without a query on the client's path.
   */
  it('knows a commit\'s position from the first primary poll sent after it (primaryLsnSince)', async () => {
    const t = tracker();
    await until(t, 'a primary poll', () => t.primary.lsn !== null);
    const committed = await write(1);
    const fence = t.now();
    expect(t.primaryLsnSince(fence)).toBeUndefined();
    await until(t, 'a primary poll sent after the commit', () => t.primaryLsnSince(fence) !== undefined);
    expect((t.primaryLsnSince(fence) ?? 0n) >= committed).toBe(true);
  });
});

describe('pollSoon()', () => {
  /**
   * A read waiting on a just-committed write must not wait a whole interval for the fence to
   * resolve: pollSoon() polls every node now. With a 5 s interval, only an on-demand poll can
   * answer within the deadline below.
   */
  it('resolves a commit fence and refreshes the replicas in a round trip, not an interval', async () => {
    const t = tracker({ pollInterval: 5 });
    await until(t, 'first polls', () => t.primary.lsn !== null && t.replicas[0].state === 'up');
    const committed = await write(1);
    const fence = t.now();
    const polls = t.replicas[0].polls;
    t.pollSoon();
    t.pollSoon(); // coalesces with the first: still one poll in flight per node
    await until(t, 'a primary poll after the fence, and a replica poll', () => t.primaryLsnSince(fence) !== undefined && t.replicas[0].polls > polls, 2000);
    expect((t.primaryLsnSince(fence) ?? 0n) >= committed).toBe(true);
    expect(t.now() - fence).toBeLessThan(2000);
  });
});

describe('a replica that goes away', () => {
  /**
   * Stopped: down (reads must avoid it), retried with a growing delay (a dead host is not
   * hammered every poll), and back up by itself when it returns. Waiters are woken by the change.
   */
  it('is down while stopped, retried with backoff, and up again after a restart', async () => {
    const t = tracker();
    await until(t, 'up', () => t.replicas[0].state === 'up');
    let woken = false;
    t.wakeOnPoll({ pollWake: () => (woken = true) });
    await cluster.stopNode(replica);
    await until(t, 'the replica to be down', () => t.replicas[0].state === 'down');
    expect(woken).toBe(true);
    expect(route(ctx(t, null))).toEqual({ kind: 'primary', reason: 'primary: no healthy replica' });
    const firstFailureAt = Date.now();
    await until(t, 'six failed attempts', () => t.replicas[0].failures >= 6);
    // Retry delays of 1, 2, 4, 8 and 16 poll intervals after failures 1 to 5: at least 31
    // intervals. A tracker that retried at every poll gets there in 5 to 10.
    expect(Date.now() - firstFailureAt).toBeGreaterThanOrEqual(20 * POLL_S * 1000);
    expect(t.replicas[0].reason).toMatch(/connection refused|server closed the connection|server error/);

    await cluster.startNode(replica);
    await until(t, 'the replica to be up again', () => t.replicas[0].state === 'up');
    expect(t.replicas[0].failures).toBe(0);
    expect(route(ctx(t, null))).toEqual({ kind: 'replica', replicas: 1, reason: 'replica: plain select' });
    await cluster.waitForReplay();
  });

  /** A replica address where nothing listens is down from the first attempt, without an error anywhere else. */
  it('is down with "connection refused" when nothing listens', async () => {
    const port = await freePort();
    const t = tracker({ hosts: [host({ host: '127.0.0.1', port }), host(replica), host(cluster.primary)] });
    await until(t, 'the dead replica down and the live one up', () => t.replicas[0].state === 'down' && t.replicas[1].state === 'up');
    expect(t.replicas[0].reason).toBe('connection refused');
    expect(route(ctx(t, null))).toEqual({ kind: 'replica', replicas: 0b10, reason: 'replica: plain select' });
  });

  /** A wrong password is a down host with PostgreSQL's own reason, not a crash or a silent "up". */
  it('is down with the server\'s message when login fails', async () => {
    const topo = topology({
      login: () => ({ user: 'app', database: 'app', credential: { kind: 'secret', secret: { kind: 'plain', password: 'wrong' } } }),
    });
    const t = topo.tracker;
    await until(t, 'both hosts down', () => t.replicas[0].state === 'down' && t.replicas[1].state === 'down');
    expect(t.replicas[0].reason).toBe('login failed: password authentication failed for user "app"');
    expect(t.replicas[1].reason).toBe('login failed: password authentication failed for user "app"');
    // No primary is known, so none is assumed.
    expect(topo.primary).toBeNull();
    // A bad password is a login failure, not a network one: it does not open the breaker (other
    // users may log in), and the probe tries again only after server_login_retry.
    expect(topo.backends[0].breaker.state).toBe('closed');
    expect(topo.backends[0].breaker.counts.auth).toBeGreaterThan(0);
    expect(topo.backends[0].failures).toBe(1);
  });
});

describe('a node in the wrong role', () => {
  /** The primary among a database's hosts (or a promoted replica) must not take reads as if it lagged 0. */
  it('calls the host that is the primary wrong-role for reads (md5 login)', async () => {
    const t = tracker({
      hosts: [host(cluster.primary), host(replica)],
      login: () => ({ user: 'app_md5', database: 'app', credential: { kind: 'secret', secret: { kind: 'plain', password: cluster.password } } }),
    });
    await until(t, 'wrong-role and up', () => t.replicas[0].state === 'wrong-role' && t.replicas[1].state === 'up');
    expect(t.replicas[0].replayLsn).toBeNull();
    expect(t.replicas[0].reason).toBe('not in recovery (pg_is_in_recovery() is false)');
    expect(route(ctx(t, null))).toEqual({ kind: 'replica', replicas: 0b10, reason: 'replica: plain select' });
  });
});

describe('stop()', () => {
  /** Every probe connection is closed when its database's topology stops, so RELOAD/shutdown leaks no backend. */
  it('closes its connections', async () => {
    const topo = topology();
    const t = topo.tracker;
    await until(t, 'up', () => t.replicas[0].state === 'up' && t.primary.state === 'up');
    const count = async (node: PgNode) => {
      const r = await cluster.query(node, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${MONITOR_APPLICATION_NAME}'`);
      return Number(r.rows[0]?.n);
    };
    // Earlier specs' trackers may still be saying goodbye: wait for exactly this one's sessions.
    await pollUntil('one monitor session per node', async () => (await count(cluster.primary)) === 1 && (await count(replica)) === 1);
    topo.stop();
    expect(t.running).toBe(false);
    await pollUntil('the monitor sessions to end', async () => (await count(cluster.primary)) === 0 && (await count(replica)) === 0);
  });
});
