// Owns the demo's guided tour: it runs by itself through pgmux as an application would and says
// what happened, with the evidence (which server answered, what the admin console counts)
// beside each line. Steps: routing, read-your-writes, a prepared statement in transaction mode,
// and a switchover of the primary during which a client keeps writing (demo/switchover.ts).

import type { Cluster } from '../tools/cluster';
import type { DemoClients } from './clients';
import type { DemoConfig } from './config';
import { fact, heading, say, serverOf, WHERE_COLUMNS } from './output';
import { switchover } from './switchover';

export interface TourContext {
  config: DemoConfig;
  cluster: Cluster;
  clients: DemoClients;
  /** pgmux's log so far. */
  pgmuxLog(): string;
}

interface Where {
  port: number;
  standby: string;
}

/** 1: a read goes to the replica, a write to the primary; SHOW REPLICAS counts the read. */
async function routing(ctx: TourContext): Promise<void> {
  heading(1, 'Reads go to the replica, writes to the primary');
  const c = await ctx.clients.connect();
  try {
    const read = await c.query<Where & { n: number }>(`SELECT count(*)::int AS n, ${WHERE_COLUMNS} FROM accounts`);
    fact(`SELECT count(*) FROM accounts  ->  ${read.rows[0].n}`, `answered by ${serverOf(read.rows[0])}`);
    const write = await c.query<Where & { balance: string }>(
      `UPDATE accounts SET balance = balance + 10 WHERE owner = 'alice' RETURNING balance, ${WHERE_COLUMNS}`,
    );
    fact(`UPDATE accounts SET balance = balance + 10 WHERE owner = 'alice'`, `ran on ${serverOf(write.rows[0])}`);
  } finally {
    await ctx.clients.close(c);
  }
  const replicas = await ctx.clients.admin('SHOW REPLICAS');
  for (const r of replicas.rows.filter((row) => row.database === 'app')) {
    fact(`admin console, SHOW REPLICAS: ${r.host}:${r.port} is ${r.state}`, `reads_routed = ${r.reads_routed}, lag_bytes = ${r.lag_bytes}`);
  }
}

/** 2: a read right after a write on the same connection sees the write. */
async function readYourWrites(ctx: TourContext): Promise<void> {
  heading(2, 'Read-your-writes: a read right after a write sees it');
  const c = await ctx.clients.connect();
  try {
    const ins = await c.query<Where>(`INSERT INTO accounts VALUES (4, 'dave', 40) RETURNING ${WHERE_COLUMNS}`);
    const started = performance.now();
    const read = await c.query<Where & { owner: string }>(`SELECT owner, ${WHERE_COLUMNS} FROM accounts WHERE id = 4`);
    const ms = performance.now() - started;
    fact(`INSERT INTO accounts VALUES (4, 'dave', 40)`, `ran on ${serverOf(ins.rows[0])}`);
    const found = read.rows.length === 1 ? `found '${read.rows[0].owner}'` : 'NOT found';
    fact(`SELECT owner FROM accounts WHERE id = 4, at once  ->  ${found}`, `answered by ${serverOf(read.rows[0] ?? { port: 0, standby: '?' })} in ${ms.toFixed(1)} ms`);
    if (read.rows[0]?.standby === 'on') {
      fact('pgmux sent the read to the replica once it had replayed the insert (read_your_writes = connection).');
    } else {
      fact('the replica had not replayed the insert within read_your_writes_timeout, so pgmux asked the primary.');
    }
  } finally {
    await ctx.clients.close(c);
  }
}

/** 3: a named statement prepared once is executed on a server that never saw its Parse. */
async function preparedStatement(ctx: TourContext): Promise<void> {
  heading(3, 'A prepared statement in transaction mode');
  const c = await ctx.clients.connect();
  const name = 'balance_of';
  const text = `SELECT balance, ${WHERE_COLUMNS} FROM accounts WHERE owner = $1`;
  try {
    // node-postgres sends Parse for a name once per connection; later runs send only Bind/Execute.
    const first = await c.query<Where & { balance: string }>({ name, text, values: ['bob'] });
    fact(`prepare "${name}" and run it for bob  ->  ${first.rows[0].balance}`, `answered by ${serverOf(first.rows[0])}`);
    await c.query('BEGIN');
    const second = await c.query<Where & { balance: string }>({ name, text, values: ['carol'] });
    await c.query('COMMIT');
    fact(`run "${name}" again inside BEGIN ... COMMIT  ->  ${second.rows[0].balance}`, `answered by ${serverOf(second.rows[0])}`);
  } finally {
    await ctx.clients.close(c);
  }
  const prepared = await ctx.clients.admin('SHOW PREPARED');
  const row = prepared.rows.find((r) => r.query === text);
  if (row) fact(`admin console, SHOW PREPARED: "${row.name}"`, `uses = ${row.uses}, prepared on ${row.servers} server connections`);
  fact('The second run went to a server that had never seen the statement: pgmux prepared it there');
  fact('first. PgBouncer 1.18 would answer: prepared statement "balance_of" does not exist.');
}

/** Runs every step; a failing step ends the tour with its error (the demo itself stays up). */
export async function runTour(ctx: TourContext): Promise<void> {
  say('');
  say('A short tour (skip it with: npm run demo -- --no-tour)');
  await routing(ctx);
  await readYourWrites(ctx);
  await preparedStatement(ctx);
  await switchover(ctx, 4);
  say('');
  say('End of the tour.');
}
