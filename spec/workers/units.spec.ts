// Specs of lib/workers' pure parts and the cancel key's layout, without processes: how limits
// are split, how the workers' SHOW answers and /metrics expositions become one, and which bits
// of a key say peer, worker and TTL (PgBouncer 1.19's byte layout for the peer).

import { issuedSecret, keyPeer, keyTtl, keyWorker, newCancelKey, spendTtl } from '../../lib/auth/cancel-key';
import { commandComplete, dataRow, rowDescription } from '../../lib/protocol/backend';
import { mergeAnswers, MERGES, readTable } from '../../lib/workers/aggregate';
import { share } from '../../lib/workers/limits';
import { mergeExpositions } from '../../lib/workers/metrics-merge';
import { workerCount } from '../../lib/workers/count';

/** The 8 key bytes as a client receives them. */
function bytes(key: { pid: number; secret: number }): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(key.pid, 0);
  b.writeInt32BE(key.secret, 4);
  return b;
}

describe('cancel keys', () => {
  it('put peer_id in bytes 1-2 (low byte first), the worker in byte 3, TTL 3 in byte 7, and keep the pid positive', () => {
    for (let i = 0; i < 200; i++) {
      const key = newCancelKey({ peerId: 0x1234, worker: 3 });
      const b = bytes(key);
      expect([b[1], b[2], b[3], b[7] & 3]).toEqual([0x34, 0x12, 3, 3]);
      expect(key.pid).toBeGreaterThan(0);
      expect([keyPeer(key.pid), keyWorker(key.pid), keyTtl(key.secret)]).toEqual([0x1234, 3, 3]);
    }
  });

  it('is all random but the sign bit without peers or workers', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const key = newCancelKey({ peerId: 0, worker: null });
      expect(key.pid).toBeGreaterThan(0);
      seen.add(bytes(key)[3]);
    }
    expect(seen.size).toBeGreaterThan(50);
  });

  it('spends one TTL per forward, stops at 0, and is found again whatever its TTL', () => {
    const key = newCancelKey({ peerId: 7, worker: null });
    const once = spendTtl(key.secret);
    expect(keyTtl(once)).toBe(2);
    const spent = spendTtl(spendTtl(once));
    expect(keyTtl(spent)).toBe(0);
    expect(spendTtl(spent)).toBe(spent);
    for (const s of [once, spent]) expect(issuedSecret(s, { peerId: 7, worker: null })).toBe(key.secret);
  });
});

describe('limits split between workers', () => {
  const all = (whole: number, n: number, atLeastOne: boolean) => Array.from({ length: n }, (_, i) => share(whole, i, n, atLeastOne));
  it.each([
    [20, 2, true, [10, 10]],
    [10, 4, true, [3, 3, 2, 2]],
    [7, 3, false, [3, 2, 2]],
    // A pool of 1 with 4 workers: each worker gets 1 (0 would mean none / unlimited).
    [1, 4, true, [1, 1, 1, 1]],
    // min_pool_size 1 with 4 workers: one worker keeps the minimum.
    [1, 4, false, [1, 0, 0, 0]],
    // 0 stays 0: unlimited stays unlimited.
    [0, 4, true, [0, 0, 0, 0]],
  ])('%i over %i workers (at least one: %s) -> %j', (whole, n, atLeastOne, expected) => {
    expect(all(whole, n, atLeastOne)).toEqual(expected);
  });
});

describe('workers setting', () => {
  it('takes a number or auto and refuses the rest with what to write', () => {
    expect(workerCount('4')).toBe(4);
    expect(workerCount('auto')).toBeGreaterThanOrEqual(1);
    expect(() => workerCount('0')).toThrow('workers = "0" is not valid: use a number of processes from 1 to 64, or auto for one per CPU');
    expect(() => workerCount('two')).toThrow(/not valid/);
  });
});

describe('SHOW answers of several workers', () => {
  const pools = (rows: string[][]) => [
    rowDescription([
      { name: 'database', typeOid: 25 },
      { name: 'user', typeOid: 25 },
      { name: 'cl_active', typeOid: 23 },
      { name: 'maxwait', typeOid: 23 },
    ]),
    ...rows.map((r) => dataRow(r)),
    commandComplete('SHOW'),
  ];

  it('sums rows by key and takes the largest wait', () => {
    const merged = mergeAnswers(MERGES.pools, [
      { worker: 0, frames: pools([['app', 'app', '3', '1'], ['b', 'app', '1', '0']]) },
      { worker: 1, frames: pools([['app', 'app', '4', '5']]) },
    ], []);
    expect(readTable(merged)?.rows).toEqual([
      ['app', 'app', '7', '5'],
      ['b', 'app', '1', '0'],
    ]);
  });

  it('weighs average times by their counts (SHOW STATS), not adding them', () => {
    const stats = (count: string, time: string) => [
      rowDescription([
        { name: 'database', typeOid: 25 },
        { name: 'avg_xact_count', typeOid: 1700 },
        { name: 'avg_xact_time', typeOid: 1700 },
      ]),
      dataRow(['app', count, time]),
      commandComplete('SHOW'),
    ];
    const merged = mergeAnswers(MERGES.stats, [
      { worker: 0, frames: stats('30', '100') },
      { worker: 1, frames: stats('10', '500') },
    ], []);
    expect(readTable(merged)?.rows).toEqual([['app', '40', '200']]);
  });

  it('lists every worker\'s rows with a worker column at the end', () => {
    const merged = mergeAnswers(MERGES.clients, [
      { worker: 1, frames: pools([['app', 'app', '1', '0']]) },
      { worker: 0, frames: pools([['app', 'app', '2', '0']]) },
    ], []);
    const table = readTable(merged);
    expect(table?.fields.map((f) => f.name)).toEqual(['database', 'user', 'cl_active', 'maxwait', 'worker']);
    expect(table?.rows).toEqual([
      ['app', 'app', '2', '0', '0'],
      ['app', 'app', '1', '0', '1'],
    ]);
  });
});

describe('/metrics of several workers', () => {
  const body = (tx: number, up: number, bucket: number) =>
    [
      '# HELP pgmux_transactions_total Transactions.',
      '# TYPE pgmux_transactions_total counter',
      `pgmux_transactions_total{database="a b",user="x\\"y}"} ${tx}`,
      '# HELP pgbouncer_up Up.',
      '# TYPE pgbouncer_up gauge',
      `pgbouncer_up ${up}`,
      '# HELP pgmux_query_duration_seconds Time.',
      '# TYPE pgmux_query_duration_seconds histogram',
      `pgmux_query_duration_seconds_bucket{le="+Inf"} ${bucket}`,
      `pgmux_query_duration_seconds_count ${bucket}`,
      '',
    ].join('\n');

  it('sums counters and histograms, takes the largest of up, keeps labels with spaces, quotes and braces', () => {
    expect(mergeExpositions([body(3, 1, 5), body(4, 1, 6)])).toBe(
      [
        '# HELP pgmux_transactions_total Transactions.',
        '# TYPE pgmux_transactions_total counter',
        'pgmux_transactions_total{database="a b",user="x\\"y}"} 7',
        '# HELP pgbouncer_up Up.',
        '# TYPE pgbouncer_up gauge',
        'pgbouncer_up 1',
        '# HELP pgmux_query_duration_seconds Time.',
        '# TYPE pgmux_query_duration_seconds histogram',
        'pgmux_query_duration_seconds_bucket{le="+Inf"} 11',
        'pgmux_query_duration_seconds_count 11',
        '',
      ].join('\n'),
    );
  });
});
