// Owns `npm run fuzz`: starts a throwaway cluster and pgmux, runs the cases, prints the tally and
// exits 1 when anything failed.
//
//   npm run fuzz -- --cases 100000 [--seed N] [--concurrency 12] [--from N] [--only N,M,...]
//
// A failure names its case number: `npm run fuzz -- --seed S --from N --cases 1` runs it alone.

import { formatTally } from './report';
import { failureCount, runFuzz } from './runner';
import { startTarget } from './target';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value)) throw new Error(`--${name} needs an integer, got ${process.argv[i + 1]}`);
  return value;
}

async function main(): Promise<void> {
  const cases = option('cases', 10000);
  const seed = option('seed', Date.now() % 1000000007);
  const concurrency = option('concurrency', 12);
  const from = option('from', 0);
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt < 0 ? undefined : (process.argv[onlyAt + 1] ?? '').split(',').map(Number);
  const command = `npm run fuzz -- --seed ${seed} ${only !== undefined ? `--only ${only.join(',')}` : `--cases ${cases}${from > 0 ? ` --from ${from}` : ''}`}`;
  const target = await startTarget();
  try {
    const tally = await runFuzz(target, {
      seed,
      cases,
      from,
      only,
      concurrency,
      batch: 500,
      progress: (done, t) => process.stderr.write(`\r${done}/${only?.length ?? cases} cases, ${failureCount(t)} failures, ${(t.elapsedMs / 1000).toFixed(0)} s`),
    });
    process.stderr.write('\n');
    process.stdout.write(`${formatTally(tally, command)}\n`);
    process.exitCode = failureCount(tally) === 0 ? 0 : 1;
  } finally {
    await target.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`fuzz: ${err.stack ?? err.message}\n`);
  process.exitCode = 2;
});
