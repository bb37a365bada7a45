// Unit spec of the queue of owed responses (lib/prepared/response-queue) as a plain class, no
// sockets: order, the head, a drain that keeps its records for the next batch, inserting at the
// head (a re-run batch), where the Sync is, and whether a batch ran something before it drained.

import { Fate, Kind } from '../../lib/prepared/requests';
import { ResponseQueue } from '../../lib/prepared/response-queue';
import type { Statement } from '../../lib/prepared/statements';

const stmt = { sql: 'SELECT 1' } as unknown as Statement;

function kinds(q: ResponseQueue): number[] {
  const out: number[] = [];
  for (let i = q.head; i < q.length; i++) out.push(q.at(i).kind);
  return out;
}

describe('ResponseQueue', () => {
  it('answers requests in the order they were sent, and says when nothing is owed', () => {
    const q = new ResponseQueue();
    q.push(Kind.Parse, Fate.Forward, stmt, 's1', null);
    q.push(Kind.Bind, Fate.Forward, null, null, null);
    q.push(Kind.Sync, Fate.Forward, null, null, null);
    expect(q.pending).toBe(3);
    expect(kinds(q)).toEqual([Kind.Parse, Kind.Bind, Kind.Sync]);
    expect(q.shift()).toBe(false);
    // An answered request lets go of its statement, but keeps its kind and name for the batch (rerun looks back).
    expect(q.at(0).stmt).toBeNull();
    expect(q.at(0).clientName).toBe('s1');
    expect(q.kindAt(q.head)).toBe(Kind.Bind);
    expect(q.shift()).toBe(false);
    expect(q.shift()).toBe(true);
    expect(q.pending).toBe(0);
  });

  it('reuses its records after a drain, so a batch of the same size allocates nothing new', () => {
    const q = new ResponseQueue();
    for (let i = 0; i < 3; i++) q.push(Kind.Execute, Fate.Forward, null, null, null);
    const first = q.at(0);
    while (!q.shift());
    q.clear();
    expect(q.length).toBe(0);
    q.push(Kind.Sync, Fate.Swallow, stmt, null, null);
    expect(q.at(0)).toBe(first);
    expect(q.at(0).kind).toBe(Kind.Sync);
    expect(q.at(0).fate).toBe(Fate.Swallow);
    expect(q.kindAt(1)).toBe(0);
  });

  it('puts requests in at the head ahead of those owed (a batch run again)', () => {
    const q = new ResponseQueue();
    q.push(Kind.Parse, Fate.Forward, null, null, null);
    q.push(Kind.Bind, Fate.Forward, stmt, 's1', null);
    q.push(Kind.Sync, Fate.Forward, null, null, null);
    q.shift();
    q.insert(q.head, Kind.Sync, Fate.Swallow, null, null, null);
    q.insert(q.head + 1, Kind.Close, Fate.Swallow, null, null, null);
    q.insert(q.head + 2, Kind.Parse, Fate.Swallow, stmt, null, null);
    expect(kinds(q)).toEqual([Kind.Sync, Kind.Close, Kind.Parse, Kind.Bind, Kind.Sync]);
    expect(q.at(q.head + 3).clientName).toBe('s1');
    expect(q.syncAt()).toBe(q.head);
  });

  it('finds the first Sync or Query from the head, and whether a batch bound or executed before it drained', () => {
    const q = new ResponseQueue();
    q.push(Kind.Parse, Fate.Forward, null, null, null);
    q.push(Kind.DescribeStatement, Fate.Forward, null, null, null);
    expect(q.syncAt()).toBe(2);
    expect(q.ranInBatch(1)).toBe(false);
    q.push(Kind.Bind, Fate.Forward, null, null, null);
    expect(q.ranInBatch(2)).toBe(true);
    q.push(Kind.Query, Fate.Forward, null, null, null);
    q.push(Kind.Parse, Fate.Forward, null, null, null);
    expect(q.syncAt()).toBe(3);
    // The batch after the Query only parsed.
    expect(q.ranInBatch(4)).toBe(false);
  });
});
