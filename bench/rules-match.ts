// Owns the in-process cost of the [rules] per statement (`node dist/bench/rules-match.js`, issue
// 15): a client's rules (lib/rules/client-rules) are handed pgbench select-only statements the
// way lib/client hands them over (admit() for the request, clientFrame() for the forwarded Query,
// ready() for its ReadyForQuery), with 50 rules for other clients, 50 statement rules matching
// none, and none, in the simple protocol (a new text per account, as pgbench's) and the extended
// (pgbench -M extended: Parse of the same text, Bind of the account); CPU time per statement by
// process.cpuUsage(), which a loaded machine disturbs far less than a wall clock. With --gc (run
// as `node --max-semi-space-size=1 dist/bench/rules-match.js --gc`) also the young-generation
// collections per million statements, about one per MiB of garbage. The end-to-end benchmark is
// bench/rules.ts.

import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseRule, type RuleDef } from '../lib/config';
import { bind, describe, execute, parse, query, sync } from '../lib/protocol/frontend';
import { Classifier, IntegerLiterals, literalsElided, loadParser, normalizedText } from '../lib/routing/classify';
import { ClientRules, type ClientOrigin, type RulesDatabase } from '../lib/rules/client-rules';
import { RulesEngine } from '../lib/rules/engine';
import { readBatch } from '../lib/rules/request';
import { identityRules, statementRules } from './rules-sets';

const STATEMENTS = 700_000;
/** Distinct statement texts, as pgbench's select-only at scale 1 (aid = 1..100,000). */
const DISTINCT = 100_000;

function defsOf(text: string): RuleDef[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const eq = l.indexOf('=');
      return parseRule(l.slice(0, eq).trim(), l.slice(eq + 1).trim(), `bench:${i + 1}`);
    });
}

function engineWith(text: string): RulesEngine {
  return new RulesEngine(defsOf(text), { result_cache_size: 0, result_cache_max_answer: 0 }, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
}

// pgbench's select-only at scale 1 picks one of 100,000 accounts: nearly every text is new.
const frames = Array.from({ length: DISTINCT }, (_, i) => query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${((i * 7919) % DISTINCT) + 1};`));

/** pgbench -M extended: the unnamed statement parsed again for each execution, the account a parameter. */
const EXTENDED_SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';
const batches = Array.from({ length: 1000 }, (_, i) => {
  const p = parse('', EXTENDED_SQL);
  const b = bind({ params: [String(((i * 7919) % DISTINCT) + 1)] });
  return { p, b, all: Buffer.concat([p, b, describe('P', ''), execute(), sync()]) };
});

type Protocol = 'simple' | 'extended';

/** CPU µs per statement of admit + clientFrame (per Query, or Parse and Bind) + ready for `n` pgbench select-only statements. */
function run(engine: RulesEngine, n: number, protocol: Protocol): number {
  const classifier = new Classifier({});
  const db: RulesDatabase = {
    name: 'app',
    domain: 'app@127.0.0.1:5432',
    readYourWrites: 'connection',
    classify: (sql) => classifier.classify(sql),
    catalog: () => null,
    catalogChanged: () => undefined,
  };
  const origin: ClientOrigin = { id: 1, user: 'app', remote: '127.0.0.1:40000', params: new Map([['application_name', 'pgbench']]), statementText: () => undefined };
  const rules = new ClientRules(engine, db, origin);
  const server = { txStatus: 0x49 };
  const start = process.cpuUsage();
  if (protocol === 'simple') {
    for (let i = 0; i < n; i++) {
      const f = frames[i % frames.length];
      rules.admit([f], 0);
      rules.clientFrame(0x51, f, 0, f.length, server, 0);
      rules.ready(0x49, 0);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const b = batches[i % batches.length];
      rules.admit([b.all], 0);
      rules.clientFrame(0x50, b.p, 0, b.p.length, server, 0);
      rules.clientFrame(0x42, b.b, 0, b.b.length, server, 0);
      rules.ready(0x49, 0);
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/**
 * Young-generation collections (scavenges) while `n` statements run: with node's
 * --max-semi-space-size=1 each is about one MiB allocated, so this counts the garbage lib/rules
 * makes per statement (which a pooler with 100 clients pays for in every scavenge).
 */
async function scavenges(engine: RulesEngine, n: number, protocol: Protocol): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count++;
  });
  obs.observe({ entryTypes: ['gc'] });
  run(engine, n, protocol);
  await new Promise((resolve) => setTimeout(resolve, 100));
  obs.disconnect();
  return count;
}

/** CPU ns per call of `fn` over `n` calls, median of 7 runs (process.cpuUsage, as run()). */
function cpuNs(n: number, fn: (i: number) => unknown): number {
  const runs: number[] = [];
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) if (fn(i) !== undefined) sink++;
    const used = process.cpuUsage(start);
    runs.push(((used.user + used.system) * 1000) / n);
  }
  if (sink < 0) process.stdout.write('');
  return runs.sort((a, b) => a - b)[3];
}

/**
 * `--parts`: what the simple protocol's per-statement work is made of with the 50 statement
 * rules, each step alone on pgbench's texts (a new literal each time).
 */
function parts(): void {
  const defs = defsOf(statementRules());
  const anyRegex = new RegExp(defs.filter((d) => d.regex !== undefined).map((d) => `(?:${d.regex})`).join('|'), 'i');
  const engine = engineWith(statementRules());
  const texts = frames.map((f) => f.toString('utf8', 5, f.length - 1));
  const names = { statementText: (): undefined => undefined };
  for (const t of texts) engine.facts(t);
  const n = 500_000;
  const m = DISTINCT;
  const rows: [string, number][] = [
    ['decode the Query text (utf8 toString)', cpuNs(n, (i) => frames[i % m].toString('utf8', 5, frames[i % m].length - 1))],
    ['readBatch (decode, statement objects)', cpuNs(n, (i) => readBatch(frames[i % m], names, false))],
    ['one alternation of the 17 regex= (test)', cpuNs(n, (i) => anyRegex.test(texts[i % m]))],
    ['literalsElided (lexer pass, key string)', cpuNs(n, (i) => literalsElided(texts[i % m]))],
    ['engine.facts (elided key, then the facts cache)', cpuNs(n, (i) => engine.facts(texts[i % m]))],
  ];
  process.stdout.write('| step (simple protocol, 50 statement rules) | CPU ns per statement (median of 7) |\n|---|---:|\n');
  for (const [what, ns] of rows) process.stdout.write(`| ${what} | ${ns.toFixed(0)} |\n`);
}

async function main(): Promise<void> {
  await loadParser();
  if (process.argv.includes('--parts')) {
    parts();
    return;
  }
  const sets: [string, string][] = [
    ['no rules', ''],
    ['50 rules for other clients', identityRules()],
    ['50 statement rules matching none', statementRules()],
  ];
  const engines = sets.map(([name, text]) => [name, engineWith(text)] as const);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write('| rules | protocol | CPU µs per statement in lib/rules (median of 7) | more than no rules |\n|---|---|---:|---:|\n');
  for (const protocol of ['simple', 'extended'] as const) {
    // Warm up every path, then alternate, keeping the median of 7 runs each.
    for (const [, e] of engines) run(e, 20_000, protocol);
    const times = new Map<string, number[]>();
    for (let round = 0; round < 7; round++) {
      for (const [name, e] of engines) {
        const list = times.get(name) ?? [];
        list.push(run(e, STATEMENTS / 7, protocol));
        times.set(name, list);
      }
    }
    const base = median(times.get('no rules') ?? [0]);
    for (const [name] of sets) {
      const m = median(times.get(name) ?? [0]);
      process.stdout.write(`| ${name} | ${protocol} | ${m.toFixed(3)} | ${(m - base).toFixed(3)} µs |\n`);
    }
  }
  if (process.argv.includes('--gc')) {
    process.stdout.write('\n| rules | protocol | scavenges per 1,000,000 statements |\n|---|---|---:|\n');
    for (const protocol of ['simple', 'extended'] as const) {
      for (const [name, e] of engines) process.stdout.write(`| ${name} | ${protocol} | ${await scavenges(e, 1_000_000, protocol)} |\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
