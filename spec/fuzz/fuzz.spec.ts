// The fuzzer's share of `npm test` (issue 11, item 7): a few thousand cases, a fifth per family
// (before auth, during auth, after login, message sequences, admin console), each on its own
// connection to a real pgmux over a real cluster, judged by ./oracle; between batches pgmux must
// be alive, a bystander in an open transaction unharmed, and no client slot or fd leaked.
// Any failure fails the spec with the case's number, what was sent and what came back. A FATAL
// later than a second is run again alone after its batch (same bytes, same chunks): slow twice
// fails, slow once is the shared machine and is reported apart. The long run is `npm run fuzz -- --cases 100000`.

import { formatTally } from './report';
import { failureCount, runFuzz, type Tally } from './runner';
import { startTarget, type Target } from './target';

const SEED = Number(process.env.PGMUX_FUZZ_SEED ?? 20261123);
const CASES = Number(process.env.PGMUX_FUZZ_CASES ?? 2000);

let target: Target;

beforeAll(async () => {
  target = await startTarget();
}, 60000);

afterAll(async () => {
  await target?.stop();
});

it(`${CASES} fuzz cases: no hang, no slow or missing FATAL, no crash, no leak, no harm to a bystander`, async () => {
  const tally: Tally = await runFuzz(target, { seed: SEED, cases: CASES, concurrency: 12, batch: 250 });
  const report = formatTally(tally, `PGMUX_FUZZ_SEED=${SEED} PGMUX_FUZZ_CASES=${CASES} npx jest spec/fuzz`);
  process.stdout.write(`${report}\n`);
  if (failureCount(tally) > 0) throw new Error(report);
  expect(tally.cases).toBe(CASES);
}, 240000);
