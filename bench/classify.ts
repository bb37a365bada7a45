// Owns the statement-classification micro-benchmark (`node dist/bench/classify.js [--quick]`):
// cost per statement of a cache hit, a cache miss the lexer settles, a miss answered from the
// normalized cache, and a miss the parser (libpg-query, WASM) settles; prints ns/op as markdown
// for bench/RESULTS.md.
//
// Not a test: numbers depend on the machine and its load. Each figure is the best of several
// rounds, so a busy neighbour inflates it less; compare rows, not machines.

import { parseArgs } from 'node:util';
import { Classifier, classify, loadParser, type Classification } from '../lib/routing/classify';

interface Row {
  what: string;
  tier: string;
  ns: number;
}

/** Statements the lexer settles (the common traffic). */
const LEXER = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 48213',
  'SELECT "users"."id", "users"."name", "users"."email" FROM "users" WHERE "users"."id" = $1 LIMIT $2',
  "select count(*), max(created_at) from orders where customer_id = 42 and status in ('a', 'b')",
  'UPDATE pgbench_accounts SET abalance = abalance + -4012 WHERE aid = 48213',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 48213, -4012, CURRENT_TIMESTAMP)',
  'BEGIN',
  "SET application_name = 'worker-7'",
];

/** Statements only the parser settles. */
const PARSER = [
  'SELECT * FROM jobs WHERE state = 1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED',
  'WITH moved AS (DELETE FROM queue WHERE id = 5 RETURNING *) SELECT count(*) FROM moved',
  'BEGIN READ ONLY',
  'SELECT substring(name FROM 1 FOR 3) FROM accounts WHERE id = 9',
];

function inList(n: number): string {
  return `SELECT * FROM t WHERE id IN (${Array.from({ length: n }, (_, i) => i).join(', ')})`;
}

/** Runs `op` over `inputs` until `minMs` passed, `rounds` times; the best round's ns per op. */
function measure(inputs: readonly string[], op: (sql: string) => Classification, rounds: number, minMs: number): number {
  let sink = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    do {
      for (let i = 0; i < inputs.length; i++) sink += op(inputs[i]).reason.length;
      n += inputs.length;
      elapsed = Number(process.hrtime.bigint() - start);
    } while (elapsed < minMs * 1e6);
    best = Math.min(best, elapsed / n);
  }
  if (sink === 0) throw new Error('unreachable: keeps the results alive');
  return best;
}

/** `count` distinct texts of each template: literals changed, so exact-text lookups miss. */
function variants(templates: readonly string[], count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    for (const t of templates) out.push(t.replace(/\b(\d+)\b/, String(100000 + i)));
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const rounds = values.quick ? 3 : 7;
  const minMs = values.quick ? 100 : 300;
  const t0 = process.hrtime.bigint();
  await loadParser();
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rows: Row[] = [];

  // Cache hits: the same texts over and over.
  const hits = new Classifier();
  rows.push({ what: 'cache hit (exact text)', tier: 'lexer', ns: measure(LEXER, (s) => hits.classify(s), rounds, minMs) });
  rows.push({ what: 'cache hit (exact text)', tier: 'parser', ns: measure(PARSER, (s) => hits.classify(s), rounds, minMs) });

  // Misses the lexer settles: tier 1 alone, and through a Classifier whose exact cache misses
  // (every text has a new literal, as simple-protocol traffic does) and keeps evicting.
  rows.push({ what: 'miss, tier 1 alone (classify())', tier: 'lexer', ns: measure(LEXER, (s) => classify(s), rounds, minMs) });
  const lexMisses = variants(LEXER, 30000);
  const missLexer = new Classifier();
  rows.push({ what: 'miss, new literal each time (Classifier)', tier: 'lexer', ns: measure(lexMisses, (s) => missLexer.classify(s), rounds, minMs) });

  // Misses the parser would settle, answered from the normalized cache (literals differ).
  const parseMisses = variants(PARSER, 20000);
  const normalized = new Classifier({}, { max: 100000 });
  for (const s of PARSER) normalized.classify(s);
  rows.push({ what: 'miss, normalized-text hit (Classifier)', tier: 'parser', ns: measure(parseMisses, (s) => normalized.classify(s), rounds, minMs) });

  // Misses the parser settles: every call parses.
  rows.push({ what: 'miss, tier 2 parse (classify())', tier: 'parser', ns: measure(PARSER, (s) => classify(s), rounds, minMs) });

  // A 5,000-item IN list: the lexer settles it; the parser would take far longer.
  const big = [inList(5000)];
  rows.push({ what: 'miss, 5,000-item IN list (classify())', tier: 'lexer', ns: measure(big, (s) => classify(s), 3, minMs) });
  const bigLocked = [`${inList(5000)} FOR UPDATE`];
  rows.push({ what: 'miss, 5,000-item IN list … FOR UPDATE (classify())', tier: 'parser', ns: measure(bigLocked, (s) => classify(s), 3, minMs) });

  // A 1 MB bulk INSERT (every one is new text): the lexer's shortcut, no tokenizing.
  const bulk = [`INSERT INTO t (a, b) VALUES ${Array.from({ length: 40000 }, (_, i) => `(${i}, 'row number ${i}')`).join(', ')}`];
  rows.push({ what: `miss, ${(bulk[0].length / 1e6).toFixed(1)} MB bulk INSERT (classify())`, tier: 'lexer', ns: measure(bulk, (s) => classify(s), 3, minMs) });

  const fmt = (ns: number): string => (ns >= 100000 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 10000 ? `${(ns / 1000).toFixed(1)} µs` : `${Math.round(ns)} ns`);
  console.log(`## Statement classification (node ${process.version}, best of ${rounds} rounds; parser load ${loadMs.toFixed(0)} ms)\n`);
  console.log('| case | settled by | per statement | ns/op |');
  console.log('|---|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.what} | ${r.tier} | ${fmt(r.ns)} | ${Math.round(r.ns)} |`);
  console.log(`\nStatements: lexer-settled ${LEXER.length} (pgbench, ORM, DML, BEGIN, SET), parser-settled ${PARSER.length} (SKIP LOCKED, writing CTE, BEGIN READ ONLY, substring … FOR).`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
