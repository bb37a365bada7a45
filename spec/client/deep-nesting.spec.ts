// Black-box spec of statements nested thousands deep (hostile input): PostgreSQL's grammar accepts
// them, and pgmux walks their parse trees in three places (the router's classifier, the rules'
// statement facts, the SET tracker's set_config search). A walk that runs out of stack must give
// that layer's safe answer, never take the process down: the client gets PostgreSQL's own answer
// and ReadyForQuery, a bystander's open transaction goes on, new clients are served.

import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { bystanderInTransaction, pgClient } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { isAlive } from '../support/procs';
import { startMux } from './support/setup';
import { RawClient, errorFields, msg } from '../support/wire';

/** Deep enough to overflow a recursive walk of the tree on node's default stack, within the grammar's limit. */
const DEPTH = 4000;
const deepArray = (): string => 'ARRAY['.repeat(DEPTH) + '1' + ']'.repeat(DEPTH);
/** A bounded wait for the answer: PostgreSQL parses the text too, and pgmux up to three times. */
const ANSWER_MS = 10000;

let cluster: Cluster;
let mux: PgmuxProcess;
/** In an open transaction (BEGIN; INSERT) for the whole file. */
let bystander: Client;

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(cluster.primary, 'CREATE TABLE bystander (n int)', 'app');
  const replica = cluster.replica!;
  mux = await startMux(cluster, {
    // replicas= turns the router's classifier on; a [rules] line turns the statement facts on.
    rules: ['no_drop = kind=drop deny=yes'],
    databases: [
      `routed = host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${replica.port}`,
      // One server: the next client of `one` gets the server the last one used.
      `one = host=127.0.0.1 port=${cluster.primary.port} dbname=app pool_size=1`,
    ],
  });
  bystander = await bystanderInTransaction(mux.port, cluster.password);
});

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

interface DeepCase {
  /** What is sent, and which walk it reaches. */
  name: string;
  database: string;
  sql: () => string;
}

const CASES: DeepCase[] = [
  {
    name: 'set_config next to a deep ARRAY[] (catches: the SET tracker\'s set_config search overflowing the stack and killing pgmux)',
    database: 'app',
    sql: () => `SELECT set_config('pgmux.x', 'y', false), ${deepArray()}`,
  },
  {
    name: 'a deep ARRAY[] with [rules] on (catches: the rules\' statement facts overflowing the stack and killing pgmux)',
    database: 'app',
    sql: () => `SELECT ${deepArray()}`,
  },
  {
    name: 'a deep ARRAY[] inside an unknown function on a database with replicas (catches: the classifier\'s walk killing pgmux)',
    database: 'routed',
    sql: () => `SELECT no_such_function(${deepArray()})`,
  },
];

describe('a statement nested thousands deep gets an answer and leaves pgmux up', () => {
  it.each(CASES)('$name', async (c) => {
    const conn = await RawClient.login(mux.port, 'app', cluster.password, c.database);
    try {
      const sent = Date.now();
      conn.send(msg.query(c.sql()));
      const frames = await conn.until('Z', ANSWER_MS);
      expect(Date.now() - sent).toBeLessThan(ANSWER_MS);
      // PostgreSQL's own refusal (too many array dimensions, or a stack/grammar limit), not pgmux's.
      const error = frames.find((f) => f.type === 'E');
      expect(error).toBeDefined();
      expect(errorFields(error!.body).S).toBe('ERROR');
      // The connection still works.
      const again = await conn.roundTrip(msg.query('SELECT 1'));
      expect(again.map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
    } finally {
      conn.destroy();
    }
    expect(isAlive(mux.pid)).toBe(true);
    const r = await bystander.query('SELECT count(*)::int AS n FROM bystander');
    expect(r.rows).toEqual([{ n: 1 }]);
  });

  it("keeps a temp table made by a deep statement to its client, and gone for the next (catches: a walk given up on dropping the statement's pins)", async () => {
    // abs(abs(...)) 3000 deep: PostgreSQL runs it; pgmux's classifier cannot walk it.
    const deepValue = 'abs('.repeat(3000) + '1' + ')'.repeat(3000);
    const maker = await RawClient.login(mux.port, 'app', cluster.password, 'one');
    const made = await maker.roundTrip(msg.query(`CREATE TEMP TABLE deep_tt AS SELECT ${deepValue} AS v`));
    expect(made.map((f) => f.type)).toEqual(['C', 'Z']);
    const seen = await maker.roundTrip(msg.query('SELECT v FROM deep_tt'));
    expect(seen.map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
    await maker.close();
    // The next client of the one server must not find it (DISCARD ALL ran after its pinned client left).
    const next = await RawClient.login(mux.port, 'app', cluster.password, 'one');
    try {
      const r = await next.roundTrip(msg.query("SELECT to_regclass('pg_temp.deep_tt') IS NULL AS gone"));
      const row = r.find((f) => f.type === 'D');
      expect(row?.body.subarray(6).toString()).toBe('t');
    } finally {
      next.destroy();
    }
  });

  it('leaves the bystander able to COMMIT and pgmux serving new clients, with no uncaught error logged', async () => {
    await bystander.query('COMMIT');
    const fresh = await pgClient(mux.port, 'app', cluster.password);
    try {
      expect((await fresh.query('SELECT count(*)::int AS n FROM bystander')).rows).toEqual([{ n: 1 }]);
    } finally {
      await fresh.end();
    }
    expect(isAlive(mux.pid)).toBe(true);
    expect(mux.logs()).not.toMatch(/RangeError|Maximum call stack|uncaught/i);
  });
});
