// Issue 18 with issue 12: workers = 2 survive a primary failover as one process does. Each
// worker has its own pools; the hosts are probed once, by worker 0, and its answers reach
// worker 1 through the main process (lib/workers/probe-share), while each worker still reacts to
// its own failed dials. The drill (spec/failover/drill.ts) judges what the clients saw against
// the scenario's targets, exactly as for workers = 1.

import { runDrill } from '../failover/drill';
import { markdown } from '../failover/report';
import { findScenario } from '../failover/scenarios';

/** Seconds of load before the event and, at least, after it; the rate as spec/failover's. */
const WARMUP_SECONDS = 3;
const OBSERVE_SECONDS = 5;
const RATE = 100;
const DRILL_TIMEOUT_MS = 180000;

describe.each(['switchover', 'failover'])('workers = 2, %s', (name) => {
  it("meets the scenario's targets (0 idle-client errors, no lost write, writes back in time)", async () => {
    const result = await runDrill({ scenario: findScenario(name), pooler: 'pgmux', workers: 2, warmupSeconds: WARMUP_SECONDS, observeSeconds: OBSERVE_SECONDS, pgbenchRate: RATE });
    process.stdout.write(`\n## Failover drill, workers = 2 (spec/workers)\n\n${markdown([result])}\n`);
    const report = result.missed.length === 0 ? [] : [...result.missed, ...result.notes.map((n) => `note: ${n}`), '--- last lines of pgmux\'s log ---', result.poolerLog.split('\n').slice(-40).join('\n')];
    expect(report).toEqual([]);
    // Both workers served: the log says each came up (a drill through one worker would prove less).
    expect(result.poolerLog).toMatch(/worker 0 up/);
    expect(result.poolerLog).toMatch(/worker 1 up/);
  }, DRILL_TIMEOUT_MS);
});
