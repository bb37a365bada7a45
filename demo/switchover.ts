// Owns the tour's switchover: while a client writes through pgmux every few milliseconds, the
// primary stops (fast shutdown) and the replica is promoted, then the old primary restarts as the
// new one's replica. Nobody tells pgmux anything (no PAUSE, no config change, no RELOAD): it sees
// the primary go, holds the client's next transactions while it probes the hosts, finds the
// promoted one on its newer timeline and lets them run there. The client's counts and pgmux's
// log lines are the evidence.

import type { Client } from 'pg';
import type { PgNode } from '../tools/cluster';
import { fact, heading, serverOf, WHERE_COLUMNS } from './output';
import { DEMO_DB } from './config';
import type { TourContext } from './tour';

/** Pause between the client's transactions: a busy application, yet a readable count. */
const PACE_MS = 20;
/** How many writes each side of the switchover the tour waits for. */
const WRITES_EACH_SIDE = 5;

interface Where {
  port: number;
  standby: string;
}

/** An application's connection that inserts a row, waits PACE_MS, and again, until stopped. */
class WritingClient {
  readonly writes: { port: number; ms: number }[] = [];
  readonly failures: string[] = [];
  private stopped = false;
  private wake: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: TourContext) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Resolves once `enough(writes)` holds after some write; rejects after timeoutMs. */
  async until(enough: (writes: readonly { port: number }[]) => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!enough(this.writes)) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  private async loop(): Promise<void> {
    let client: Client | undefined;
    for (let n = 1; !this.stopped; n++) {
      const started = performance.now();
      try {
        client ??= await this.ctx.clients.connect();
        const r = await client.query<Where>(`INSERT INTO events (note, written_on) VALUES ($1, inet_server_port()) RETURNING ${WHERE_COLUMNS}`, [
          `switchover write ${n}`,
        ]);
        this.writes.push({ port: r.rows[0].port, ms: performance.now() - started });
      } catch (err) {
        // As an application would: note it, and carry on with a fresh connection.
        const e = err as Error & { code?: string };
        this.failures.push(`${e.code ? `${e.code} ` : ''}${e.message}`);
        if (client) await this.ctx.clients.close(client);
        client = undefined;
      }
      this.wake?.();
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    if (client) await this.ctx.clients.close(client);
  }
}

/** pgmux's log lines about the primary of `db` in `text`, without their timestamp and pid. */
function failoverLines(text: string, db: string): string[] {
  const about = new RegExp(`database ${db}: (primary|looking|\\d+ requests waiting)`);
  return text
    .split('\n')
    .filter((l) => about.test(l))
    .map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] (LOG|WARNING) /, ''));
}

/** A fresh connection's read, repeated until it is answered by the server on `port`. */
async function readFrom(ctx: TourContext, port: number, timeoutMs: number): Promise<Where> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const c = await ctx.clients.connect();
    try {
      const r = await c.query<Where>(`SELECT ${WHERE_COLUMNS}`);
      if (r.rows[0].port === port || performance.now() > deadline) return r.rows[0];
    } finally {
      await ctx.clients.close(c);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SHOW HOSTS' rows of the demo database, where this build's console has the view. */
async function showHosts(ctx: TourContext): Promise<void> {
  const hosts = await ctx.clients.admin('SHOW HOSTS').then(
    (r) => r.rows.filter((row) => row.database === DEMO_DB),
    (err: Error) => {
      if (/invalid command/.test(err.message)) return [];
      throw err;
    },
  );
  for (const h of hosts) {
    // A standby's timeline catches up only as it replays the switch, so only the primary's is shown.
    fact(`admin console, SHOW HOSTS: ${h.host}:${h.port} is ${h.state}`, `role ${h.role}${h.role === 'primary' ? `, timeline ${h.timeline}` : ''}`);
  }
}

export async function switchover(ctx: TourContext, n: number): Promise<void> {
  heading(n, 'Switchover: the primary moves while a client keeps writing');
  const { cluster } = ctx;
  const nodes = [cluster.primary, cluster.replica].filter((x): x is PgNode => x !== undefined);
  const old = nodes.find((x) => x.role === 'primary');
  const next = nodes.find((x) => x.role === 'replica');
  if (!old || !next) throw new Error('the switchover needs a primary and a replica');
  const since = (t0: number): string => `after ${Math.round(performance.now() - t0)} ms`;

  const app = new WritingClient(ctx);
  app.start();
  try {
    await app.until((w) => w.length >= WRITES_EACH_SIDE, 'the client to write', 10000);
    fact(`a client inserts a row every ${PACE_MS} ms through pgmux`, `on primary :${app.writes[0].port}`);
    const logFrom = ctx.pgmuxLog().length;
    const before = app.writes.length;
    const t0 = performance.now();

    await cluster.stopNode(old, 'fast');
    fact(`stopped the primary :${old.port} (PostgreSQL fast shutdown); pgmux holds new transactions`, since(t0));
    await cluster.query(next, 'SELECT pg_promote(true, 60)', 'postgres', 'postgres');
    next.role = 'primary';
    fact(`promoted the replica :${next.port} with pg_promote(); nothing said to pgmux`, since(t0));
    await app.until((w) => w.length >= before + WRITES_EACH_SIDE && w[w.length - 1].port === next.port, 'writes on the new primary', 60000);
    fact(`the client's writes go on, now on :${next.port}`, since(t0));

    await cluster.startAsStandby(old, next);
    fact(`restarted the old primary :${old.port} as a replica of :${next.port}`, since(t0));
    const read = await readFrom(ctx, old.port, 10000);
    fact(`a read through pgmux now`, `answered by ${serverOf(read)}`);
    await app.stop();

    const moved = app.writes.filter((w) => w.port === next.port).length;
    fact(
      `the client ran ${app.writes.length + app.failures.length} write transactions: ${app.writes.length} committed, ${app.failures.length} failed`,
      `${app.writes.length - moved} on :${old.port}, ${moved} on :${next.port}`,
    );
    const longest = Math.max(...app.writes.map((w) => w.ms));
    fact(`its longest write waited ${Math.round(longest)} ms, held by pgmux until the new primary took it`);
    for (const f of app.failures) fact(`failed: ${f}`);
    await showHosts(ctx);
    fact("pgmux's log:");
    for (const line of failoverLines(ctx.pgmuxLog().slice(logFrom), DEMO_DB)) fact(`  ${line}`);
  } finally {
    await app.stop();
  }
}
