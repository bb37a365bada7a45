// Spec of the drill's bookkeeping (spec/failover/verdict.ts): given what the clients saw and
// what the final primary holds, it names lost, duplicated and phantom writes exactly, keeps
// writes of unknown outcome out of both, and measures gaps and the return of writes. The drill
// itself runs against real servers (failover.spec.ts); this pins the judgement table-style.

import type { PgNode } from '../support/cluster';
import type { IdleError, IdleResults, Outcome } from './idle-clients';
import type { PgbenchResults } from './pgbench-load';
import type { EventTimeline } from './scenarios';
import { judge, type FinalRows, type JudgeInput } from './verdict';

const T0 = 1_700_000_000_000;
const primary: PgNode = { name: 'primary', host: '127.0.0.1', port: 5432, dataDir: '/x', pid: 1, role: 'primary' };
const replica: PgNode = { name: 'replica', host: '127.0.0.1', port: 5433, dataDir: '/y', pid: 2, role: 'primary' };

/** The event at T0 + 10 s; the new primary ready at T0 + 12 s; load from T0 to T0 + 20 s. */
const timeline: EventTimeline = { at: T0 + 10000, down: { node: primary, from: T0 + 10000 }, gone: T0 + 10080, ready: T0 + 12000, done: T0 + 12100, steps: [] };

function idle(o: { acked?: Record<string, number>; failed?: Record<string, Outcome>; errors?: IdleError[] } = {}): IdleResults {
  return {
    clients: 2,
    acknowledged: new Map(Object.entries(o.acked ?? {})),
    failedWrites: new Map(Object.entries(o.failed ?? {})),
    errors: o.errors ?? [],
    inserts: 0,
    selects: 0,
    staleReads: [],
    doubleReads: [],
  };
}

function pgbench(commits: number[], o: Partial<PgbenchResults> = {}): PgbenchResults {
  return {
    clients: 20,
    rate: 200,
    commits,
    transactions: commits.map((end) => ({ end, latencyMs: 2, lagMs: 0 })),
    aborts: [],
    finished: true,
    exitCode: 0,
    output: '',
    ...o,
  };
}

function final(writes: Record<string, number>, historyRows: number, sums = { accounts: 0n, tellers: 0n, branches: 0n, history: 0n }): FinalRows {
  return { writes: new Map(Object.entries(writes)), historyRows, sums };
}

function input(o: Partial<JudgeInput>): JudgeInput {
  return {
    idle: idle(),
    pgbench: pgbench([T0 + 1000]),
    final: final({}, 1),
    timeline,
    loadStart: T0,
    loadEnd: T0 + 20000,
    writesResume: true,
    poolerRunning: true,
    poolerEnd: 'running until stopped',
    dials: [],
    tightLoopPerSecond: 50,
    ...o,
  };
}

describe('judge: idle-client writes against the final primary', () => {
  /** Acknowledged and present once: nothing to report. */
  it('accepts acknowledged writes that are there once', () => {
    const v = judge(input({ idle: idle({ acked: { '1:1': T0 + 1, '2:1': T0 + 2 } }), final: final({ '1:1': 1, '2:1': 1 }, 1) }));
    expect(v.writes).toMatchObject({ acknowledged: 2, lost: [], duplicated: [], phantom: [], strays: [] });
  });

  /** Acknowledged but absent: lost. Present twice: duplicated. */
  it('names lost and duplicated writes', () => {
    const v = judge(input({ idle: idle({ acked: { '1:1': T0 + 1, '1:2': T0 + 2 } }), final: final({ '1:2': 2 }, 1) }));
    expect(v.writes).toMatchObject({ lost: ['1:1'], duplicated: ['1:2'] });
  });

  /** A clear "not committed" error yet the row is there: phantom. */
  it('names a write that failed with a clear error but is there a phantom', () => {
    const v = judge(input({ idle: idle({ failed: { '1:3': 'not-committed' } }), final: final({ '1:3': 1 }, 1) }));
    expect(v.writes.phantom).toEqual(['1:3']);
  });

  /** The connection died during the write: there or not, both are allowed, and counted apart. */
  it('allows a write of unknown outcome to be there or not', () => {
    const v = judge(input({ idle: idle({ failed: { '1:4': 'unknown', '1:5': 'unknown' } }), final: final({ '1:4': 1 }, 1) }));
    expect(v.writes).toMatchObject({ lost: [], phantom: [], strays: [], unknownPresent: 1, unknownAbsent: 1 });
  });

  /** A row for a key no client ever tried: reported, never silently accepted. */
  it('names rows no client wrote', () => {
    const v = judge(input({ final: final({ '9:9': 1 }, 1) }));
    expect(v.writes.strays).toEqual(['9:9']);
  });
});

describe('judge: errors the targets count', () => {
  const err = (action: IdleError['action'], startedAt: number, endedAt: number): IdleError => ({ client: 1, action, code: '08006', message: 'x', startedAt, endedAt });

  /** A write sent before the event and answered after it cannot be replayed: not counted. */
  it('leaves out writes in flight at the event, counts every other error', () => {
    const inFlightWrite = err('insert', timeline.at - 5, timeline.at + 5);
    // Sent after the signal but before the postmaster exited: its backend may have been stopped with it inside.
    const whileStopping = err('insert', timeline.at + 10, timeline.at + 20);
    const inFlightRead = err('select', timeline.at - 5, timeline.at + 5);
    const later = err('insert', timeline.gone + 20, timeline.gone + 120);
    const v = judge(input({ idle: idle({ errors: [inFlightWrite, whileStopping, inFlightRead, later] }) }));
    expect(v.idle.inFlight).toEqual([inFlightWrite, whileStopping]);
    // A read outside a transaction may be sent elsewhere, so a failed one counts; so does a write sent once the node was gone.
    expect(v.idle.counted).toEqual([inFlightRead, later]);
    expect(v.idle.clientsWithErrors).toBe(1);
  });
});

describe('judge: pgbench', () => {
  /** One history row per committed transaction: fewer than acknowledged is loss. */
  it('finds lost pgbench transactions', () => {
    const v = judge(input({ pgbench: pgbench([T0 + 1, T0 + 2, T0 + 3]), final: final({}, 2) }));
    expect(v.pgbench.historyProblem).toMatch(/2 rows but pgbench had 3 transactions acknowledged: 1 lost/);
  });

  /** More rows than acknowledged plus unanswered ENDs: committed though pgbench was told otherwise. */
  it('allows one extra row per END without an answer, and no more', () => {
    const aborts = [{ client: 1, command: 'END', message: 'perhaps the backend died while processing' }];
    expect(judge(input({ pgbench: pgbench([T0 + 1], { aborts }), final: final({}, 2) })).pgbench.historyProblem).toBeUndefined();
    expect(judge(input({ pgbench: pgbench([T0 + 1], { aborts }), final: final({}, 3) })).pgbench.historyProblem).toMatch(/1 committed that pgbench was told failed/);
  });

  /** A pgbench stopped by us may not have logged its last transactions: only loss is checked. */
  it('checks only for loss when pgbench did not finish', () => {
    expect(judge(input({ pgbench: pgbench([T0 + 1], { finished: false }), final: final({}, 5) })).pgbench.historyProblem).toBeUndefined();
  });

  it('counts aborts at BEGIN', () => {
    const aborts = [
      { client: 1, command: 'BEGIN', message: 'x' },
      { client: 2, command: 'UPDATE pgbench_accounts', message: 'x' },
    ];
    expect(judge(input({ pgbench: pgbench([T0 + 1], { aborts }) })).pgbench.abortedAtBegin).toBe(1);
  });

  /** tpcb-like moves the same delta through four tables; unequal sums mean a partial transaction. */
  it('reports balances that disagree', () => {
    const v = judge(input({ final: final({}, 1, { accounts: 5n, tellers: 5n, branches: 5n, history: 4n }) }));
    expect(v.pgbench.balanceProblem).toMatch(/balances disagree/);
  });
});

describe('judge: timing', () => {
  /** The longest gap between acknowledged commits from either source. */
  it('finds the longest gap between commits, pgbench and idle clients together', () => {
    const v = judge(input({ pgbench: pgbench([T0 + 1000, T0 + 9000, T0 + 13000, T0 + 19900]), idle: idle({ acked: { '1:1': T0 + 10000 } }) }));
    expect(v.longestGap).toEqual({ ms: 8000, from: T0 + 1000, to: T0 + 9000, openEnded: false });
    expect(v.firstWriteAfterReadyMs).toBe(1000);
  });

  /** No commit after the event: the gap runs to the end of the load, and writes never came back. */
  it('reports an open-ended gap and no return of writes', () => {
    const v = judge(input({ pgbench: pgbench([T0 + 1000, T0 + 9990]) }));
    expect(v.longestGap).toEqual({ ms: 10010, from: T0 + 9990, to: T0 + 20000, openEnded: true });
    expect(v.firstWriteAfterReadyMs).toBeUndefined();
  });

  it('counts dials while the node was down and the peak per second', () => {
    const times = [T0 + 100, T0 + 200, T0 + 10001, T0 + 10500, T0 + 19000];
    const v = judge(input({ dials: [{ node: primary, times }, { node: replica, times: [] }] }));
    expect(v.dials).toEqual([
      { node: 'primary :5432', total: 5, whileDown: 3, downSeconds: 10, peakPerSecond: 2 },
      { node: 'replica :5433', total: 0, whileDown: 0, downSeconds: 0, peakPerSecond: 0 },
    ]);
  });
});
