// The routing corpus against a real PostgreSQL primary and hot standby: every labelled statement
// is classified as labelled (with the database's own pg_proc volatility), the lexer never
// disagrees with PostgreSQL's grammar, every replica-labelled statement runs on the standby,
// and primary-labelled ones run on the primary (rolled back), some refused by the standby. The
// tally (issue 11): the share of read-only statements that reach a replica, and that no write
// does, printed as `routing corpus: N statements, R read-only, X% to a replica, W writes on a replica`.

import { Client } from 'pg';
import { Classifier, loadParser, type ClassifyOptions } from '../../lib/routing/classify';
import { compileOptions } from '../../lib/routing/classify-functions';
import { Lexer, lexClassify } from '../../lib/routing/classify-lexer';
import { parserClassify } from '../../lib/routing/classify-parser';
import { pinList, type Verdict } from '../../lib/routing/classify-types';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { CORPUS, FIXTURES, TOO_NEW_CODES, standbyRefusal, type CorpusEntry } from './corpus';

let cluster: Cluster;
let onPrimary: Client;
let onReplica: Client;
let serverMajor = 0;
let options: ClassifyOptions;

async function connect(node: PgNode): Promise<Client> {
  const client = new Client({ host: node.host, port: node.port, user: 'postgres', password: cluster.password, database: 'app' });
  // Notices (COMMIT outside a transaction, SET LOCAL outside one) are expected; keep them quiet.
  client.on('notice', () => undefined);
  await client.connect();
  return client;
}

/**
 * The volatility lookup the router will build per database: user functions (outside
 * pg_catalog and information_schema) from pg_proc, volatile if provolatile = 'v'.
 */
async function volatilityLookup(): Promise<(name: string, schema?: string) => boolean | undefined> {
  const r = await cluster.query(
    cluster.primary,
    `SELECT n.nspname AS schema, p.proname AS name, bool_or(p.provolatile = 'v') AS volatile
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      GROUP BY 1, 2`,
  );
  const qualified = new Map<string, boolean>();
  const bare = new Map<string, boolean>();
  for (const row of r.rows as { schema: string; name: string; volatile: boolean }[]) {
    qualified.set(`${row.schema}.${row.name}`, row.volatile);
    bare.set(row.name, (bare.get(row.name) ?? false) || row.volatile);
  }
  return (name, schema) => (schema === undefined ? bare.get(name) : qualified.get(`${schema}.${name}`));
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(cluster.primary, FIXTURES);
  await cluster.waitForReplay();
  const [, isVolatile] = await Promise.all([loadParser(), volatilityLookup()]);
  options = { isVolatile };
  onPrimary = await connect(cluster.primary);
  const replica = cluster.replica;
  if (!replica) throw new Error('startCluster({ replica: true }) returned no replica');
  onReplica = await connect(replica);
  const r = await onReplica.query('SELECT pg_is_in_recovery() AS standby, current_setting($1)::int / 10000 AS major', ['server_version_num']);
  if (r.rows[0]?.standby !== true) throw new Error('the replica is not in recovery: the corpus would prove nothing');
  serverMajor = Number(r.rows[0]?.major);
}, 120000);

afterAll(async () => {
  await onReplica?.end().catch(() => undefined);
  await onPrimary?.end().catch(() => undefined);
  await cluster?.stop();
});

function title(e: CorpusEntry): string {
  const sql = e.sql.replace(/\s+/g, ' ');
  return `${e.label}: ${sql.length > 90 ? `${sql.slice(0, 87)}...` : sql}`;
}

function sqlstate(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'no SQLSTATE';
}

/** Runs an entry the way its `run` says; returns the error (SQLSTATE and message), or undefined. */
async function execute(client: Client, e: CorpusEntry): Promise<{ code: string; message: string } | undefined> {
  const mode = e.run ?? (e.label === 'primary' ? 'txn' : 'alone');
  try {
    if (mode === 'txn') await client.query('BEGIN');
    for (const s of e.setup ?? []) await client.query(s);
    await client.query(e.sql, e.params);
    for (const s of e.after ?? []) await client.query(s);
    return undefined;
  } catch (err) {
    return { code: sqlstate(err), message: err instanceof Error ? err.message : String(err) };
  } finally {
    // Whatever happened, leave the session outside any transaction for the next entry.
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** Runs an entry (like execute) and returns its last result's rows, or the error. */
async function rows(client: Client, e: CorpusEntry): Promise<{ rows: unknown[] } | { error: string }> {
  try {
    await client.query('BEGIN');
    for (const s of e.setup ?? []) await client.query(s);
    const r = await client.query(e.sql, e.params);
    return { rows: (Array.isArray(r) ? r[r.length - 1] : r).rows as unknown[] };
  } catch (err) {
    return { error: `${sqlstate(err)} ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** Executes entries on a node; lists those that failed when they should not have. */
async function failures(client: Client, entries: readonly CorpusEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    const err = await execute(client, e);
    if (err === undefined) continue;
    // A statement newer than the server may fail, but only as unknown syntax or function.
    if (e.pg !== undefined && e.pg > serverMajor && TOO_NEW_CODES.has(err.code)) continue;
    out.push(`${title(e)}\n    -> ${err.code} ${err.message}`);
  }
  return out;
}

describe('the routing corpus', () => {
  /** Catches a corpus that shrank or lost one side, so the evidence quietly weakens. */
  it('holds at least 400 distinct statements, with plenty of both labels', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(400);
    expect(new Set(CORPUS.map((e) => e.sql)).size).toBe(CORPUS.length);
    expect(CORPUS.filter((e) => e.label === 'replica').length).toBeGreaterThanOrEqual(200);
    expect(CORPUS.filter((e) => e.label === 'primary').length).toBeGreaterThanOrEqual(150);
    expect(CORPUS.filter((e) => e.run === 'none').every((e) => e.label === 'primary' && (e.why ?? '') !== '')).toBe(true);
    // Only a primary entry can be a read that missed a replica, or a read only the primary answers, and it says why.
    const marked = CORPUS.filter((e) => e.reads !== undefined || e.primaryAnswer !== undefined);
    expect(marked.filter((e) => e.label !== 'primary' || (e.reads ?? e.primaryAnswer) === '' || (e.reads !== undefined && e.primaryAnswer !== undefined))).toEqual([]);
  });

  /**
   * The issue's measure, from the classifier's own answers (not the labels): of the statements
   * that only read and that a hot standby answers the same (replica-labelled, or primary-labelled
   * with `reads`), the share sent to a replica must be at least 95 %; no other statement may be
   * sent there, and every statement sent there must run on the real standby without a refusal.
   * Reads whose answer is the primary's (`primaryAnswer`) are reported apart.
   */
  it('sends at least 95 % of the read-only statements to a replica, and no write', async () => {
    const classifier = new Classifier(options);
    const toReplica = CORPUS.filter((e) => classifier.classify(e.sql).target === 'replica');
    const readOnly = CORPUS.filter((e) => e.label === 'replica' || e.reads !== undefined);
    const primaryAnswers = CORPUS.filter((e) => e.primaryAnswer !== undefined);
    const reached = readOnly.filter((e) => toReplica.includes(e));
    const writesThere = toReplica.filter((e) => !readOnly.includes(e)).map(title);
    // A statement the standby refuses would be a write that reached a replica, whatever its label.
    const refused: string[] = [];
    for (const e of toReplica.filter((x) => x.run !== 'none')) {
      const err = await execute(onReplica, e);
      if (err !== undefined && standbyRefusal(err.code, err.message)) refused.push(`${title(e)}\n    -> ${err.code} ${err.message}`);
    }
    const share = (100 * reached.length) / readOnly.length;
    const withPrimaryAnswers = (100 * reached.length) / (readOnly.length + primaryAnswers.length);
    const list = (entries: readonly CorpusEntry[]): string => entries.map((e) => `  ${title(e)}\n      (${e.reads ?? e.primaryAnswer ?? 'no reason given'})`).join('\n');
    process.stdout.write(
      `routing corpus: ${CORPUS.length} statements, ${readOnly.length} read-only, ${share.toFixed(1)}% to a replica, ` +
        `${writesThere.length + refused.length} writes on a replica\n` +
        `  (and ${primaryAnswers.length} reads whose answer is the primary's, sent there; counting them too, ` +
        `${withPrimaryAnswers.toFixed(1)}% of ${readOnly.length + primaryAnswers.length} reads reach a replica)\n` +
        `read-only statements sent to the primary:\n${list(readOnly.filter((e) => !reached.includes(e)))}\n` +
        `reads whose answer is the primary's:\n${list(primaryAnswers)}\n`,
    );
    expect(writesThere).toEqual([]);
    expect(refused).toEqual([]);
    expect(share).toBeGreaterThanOrEqual(95);
  });

  /**
   * Catches `primaryAnswer` used to excuse a miss: each such read must be refused by the standby,
   * or answered there otherwise than on the primary.
   */
  it('gets another answer, or a refusal, from the standby for every read marked primaryAnswer', async () => {
    const same: string[] = [];
    for (const e of CORPUS.filter((x) => x.primaryAnswer !== undefined)) {
      const onP = await rows(onPrimary, e);
      const onS = await rows(onReplica, e);
      if (!('error' in onP) && !('error' in onS) && JSON.stringify(onP.rows) === JSON.stringify(onS.rows)) same.push(`${title(e)}\n    -> ${JSON.stringify(onS.rows)}`);
      if ('error' in onP) same.push(`${title(e)}\n    -> fails on the primary: ${onP.error}`);
    }
    expect(same).toEqual([]);
  });

  describe('classification, with the volatility lookup built from this database', () => {
    let classifier: Classifier;
    beforeAll(() => {
      classifier = new Classifier(options);
    });

    /**
     * Catches any statement sent to the wrong side (a write on a replica errors or, worse, a
     * read pinned needlessly to the primary), a wrong reason code, or lost/extra session pins.
     */
    it.each(CORPUS.map((e) => [title(e), e] as const))('%s', (_, e) => {
      const c = classifier.classify(e.sql);
      expect(c.target).toBe(e.label);
      if (e.reason !== undefined) expect(c.reason).toBe(e.reason);
      expect(c.pins).toEqual(e.pins);
      expect(c.unpins).toEqual(e.unpins);
      expect(c.sessionRoute).toEqual(e.sessionRoute);
    });
  });

  /**
   * Catches the fast tier drifting from PostgreSQL's grammar: wherever the lexer settles a
   * statement on its own, the parser must reach the same target, reason and pins.
   */
  it('lexer and parser agree on every statement the lexer settles', () => {
    const o = compileOptions(options);
    const shape = (v: Verdict) => ({
      target: v.target,
      reason: v.reason,
      pins: pinList(v.pins),
      unpins: pinList(v.unpins),
      sessionRoute: v.sessionRoute,
    });
    const disagreements: string[] = [];
    let settled = 0;
    for (const e of CORPUS) {
      const lexed = lexClassify(new Lexer(e.sql), o);
      if (lexed === undefined) continue;
      settled++;
      if (e.lexerOnly !== undefined) continue;
      const parsed = parserClassify(e.sql, o);
      if (JSON.stringify(shape(lexed)) !== JSON.stringify(shape(parsed))) {
        disagreements.push(`${title(e)}\n    lexer  ${JSON.stringify(shape(lexed))}\n    parser ${JSON.stringify(shape(parsed))}`);
      }
    }
    expect(disagreements).toEqual([]);
    // The lexer is the fast path: if it stopped settling ordinary statements, every miss would pay the parser.
    expect(settled).toBeGreaterThanOrEqual(Math.floor(CORPUS.length / 2));
  });

  /**
   * Catches a mislabel: a statement labelled read-only that a hot standby refuses would break
   * every client routed there. Each runs on the real standby and must succeed.
   */
  it('every statement labelled replica runs on the hot standby', async () => {
    expect(await failures(onReplica, CORPUS.filter((e) => e.label === 'replica'))).toEqual([]);
  });

  /** Catches corpus entries that are not valid SQL, which would make their labels meaningless. */
  it('every statement labelled primary runs on the primary (inside a transaction that is rolled back)', async () => {
    expect(await failures(onPrimary, CORPUS.filter((e) => e.label === 'primary' && e.run !== 'none'))).toEqual([]);
  });

  /**
   * Catches labels that are merely cautious: these primary statements are refused by the hot
   * standby itself (read-only transaction, recovery in progress, not supported in hot standby).
   */
  it('the hot standby refuses the write kinds marked standbyRefuses', async () => {
    const refused = CORPUS.filter((e) => e.standbyRefuses === true);
    expect(refused.length).toBeGreaterThanOrEqual(25);
    const accepted: string[] = [];
    for (const e of refused) {
      const err = await execute(onReplica, e);
      if (err === undefined || !standbyRefusal(err.code, err.message)) accepted.push(`${title(e)}\n    -> ${err === undefined ? 'succeeded' : `${err.code} ${err.message}`}`);
    }
    expect(accepted).toEqual([]);
  });
});
