// Table spec of route(ctx) (STYLE.md #11): one behaviour per case, each built from a default
// context (a plain SELECT, idle client, one healthy caught-up replica, no write) through the
// RouteCase builder, and each named for the bug it would catch. The decision is printed as one
// line: 'primary: <reason>', 'replica [0,2]: <reason>', 'wait until 0/5000: <reason>',
// 'refuse: <reason>', so a wrong target, wrong replica set or wrong reason all show in the diff.

import type { Classification, PinReason, SessionRoute } from '../../lib/routing/classify-types';
import { formatLsn, parseLsn } from '../../lib/routing/lsn';
import type { ReplicaState, ReplicaView } from '../../lib/routing/replicas';
import { maskIndices } from '../../lib/routing/replicas';
import { Reason, route, type ReadYourWrites, type RouteContext, type RouteDecision, type TxState, type WriteLsn } from '../../lib/routing/route';

const SELECT: Classification = { target: 'replica', reason: 'replica: plain select', tier: 'lexer' };
const INSERT: Classification = { target: 'primary', reason: 'primary: INSERT', tier: 'lexer' };

function lsn(text: string): bigint {
  const v = parseLsn(text);
  if (v === undefined) throw new Error(`bad LSN in spec: ${text}`);
  return v;
}

/** Builder for a RouteContext; every method changes one thing from the default. */
class RouteCase {
  private statement: Classification = SELECT;
  private tx: TxState = 'idle';
  private sessionRoute: SessionRoute = 'auto';
  private pins: PinReason[] = [];
  private replicas: ReplicaView[] = [{ state: 'up', replayLsn: lsn('0/3000000') }];
  private readYourWrites: ReadYourWrites = 'connection';
  private writeLsn: WriteLsn = null;
  private waitExpired = false;
  private replicaOnly = false;

  stmt(c: Classification): this {
    this.statement = c;
    return this;
  }
  inTx(tx: TxState): this {
    this.tx = tx;
    return this;
  }
  session(r: SessionRoute): this {
    this.sessionRoute = r;
    return this;
  }
  pinned(...p: PinReason[]): this {
    this.pins = p;
    return this;
  }
  /** Replicas as 'state' or 'state@replayLsn', e.g. 'up@0/5000', 'down', 'lagging@0/10'. */
  with(...specs: string[]): this {
    this.replicas = specs.map((s) => {
      const [state, at] = s.split('@');
      return { state: state as ReplicaState, replayLsn: at === undefined ? null : lsn(at) };
    });
    return this;
  }
  ryw(mode: ReadYourWrites): this {
    this.readYourWrites = mode;
    return this;
  }
  wrote(at: string | 'pending'): this {
    this.writeLsn = at === 'pending' ? 'pending' : lsn(at);
    return this;
  }
  waited(): this {
    this.waitExpired = true;
    return this;
  }
  alias(): this {
    this.replicaOnly = true;
    return this;
  }
  context(): RouteContext {
    return {
      statement: this.statement,
      tx: this.tx,
      sessionRoute: this.sessionRoute,
      pins: this.pins,
      replicas: this.replicas,
      readYourWrites: this.readYourWrites,
      writeLsn: this.writeLsn,
      waitExpired: this.waitExpired,
      replicaOnly: this.replicaOnly,
    };
  }
}

const c = (): RouteCase => new RouteCase();

function show(d: RouteDecision): string {
  switch (d.kind) {
    case 'primary':
    case 'refuse':
      return d.reason;
    case 'replica':
      return `replica [${maskIndices(d.replicas).join(',')}]: ${d.reason}`;
    case 'wait':
      return `wait until ${d.until === null ? 'any replica' : typeof d.until === 'string' ? d.until : formatLsn(d.until)}: ${d.reason}`;
  }
}

interface Row {
  readonly name: string;
  readonly ctx: RouteCase;
  readonly want: string;
}

const CASES: Row[] = [
  /** The point of the feature: a read with nothing against it must leave the primary. */
  { name: 'a plain SELECT of an idle client goes to the healthy replica', ctx: c(), want: 'replica [0]: replica: plain select' },
  /** The classifier's reason must reach SHOW ROUTE unchanged, not be replaced by a generic one. */
  { name: 'a write goes to the primary with the classifier\'s reason', ctx: c().stmt(INSERT), want: 'primary: INSERT' },
  /** A transaction runs on one server; its reads cannot hop to a replica mid-transaction. */
  { name: 'a SELECT inside a read-write transaction goes to the primary', ctx: c().inTx('transaction'), want: 'primary: in transaction' },
  /** BEGIN READ ONLY transactions are the one kind of transaction that may run on a replica. */
  { name: 'a SELECT opening a READ ONLY transaction goes to a replica', ctx: c().inTx('read-only-transaction'), want: 'replica [0]: replica: plain select' },
  /** A read-only transaction does not make a write-classified statement safe on a replica (txid_current works in one on the primary only). */
  { name: 'a primary-classified statement in a READ ONLY transaction still goes to the primary', ctx: c().inTx('read-only-transaction').stmt({ target: 'primary', reason: 'primary: volatile function txid_current', tier: 'lexer' }), want: 'primary: volatile function txid_current' },
  /** SET pgmux.route = primary must override even a read. */
  { name: 'SET pgmux.route = primary sends reads to the primary', ctx: c().session('primary'), want: 'primary: SET pgmux.route' },
  /** Session state (a temp table) lives on the primary's connection only; a read of it elsewhere fails. */
  { name: 'a client pinned by a temp table reads from the primary, and the reason names the pin', ctx: c().pinned('temp-table'), want: 'primary: pinned by temp table' },
  /** The first pin's reason is reported, so SHOW ROUTE is stable when several pins hold. */
  { name: 'with several pins the first one is named', ctx: c().pinned('advisory-lock', 'set'), want: 'primary: pinned by advisory lock' },
  /** A statement that creates session state must run where the session continues: the primary. */
  { name: 'a replica-classified statement that creates a pin still goes to the primary', ctx: c().stmt({ target: 'replica', reason: 'replica: plain select', tier: 'parser', pins: ['with-hold-cursor'] }), want: 'primary: pinned by WITH HOLD cursor' },
  /** A database without replicas must not wait or refuse: everything is the primary's. */
  { name: 'no replicas configured: the primary', ctx: c().with(), want: 'primary: no replicas' },
  /** A down replica must take no reads and the client must get no error. */
  { name: 'the only replica down: the primary', ctx: c().with('down@0/3000000'), want: 'primary: no healthy replica' },
  /** A lagging replica is out of rotation even though it still answers. */
  { name: 'the only replica lagging: the primary', ctx: c().with('lagging@0/1000'), want: 'primary: no healthy replica' },
  /** A promoted or misconfigured node (not in recovery) is not a replica. */
  { name: 'the only replica in the wrong role: the primary', ctx: c().with('wrong-role'), want: 'primary: no healthy replica' },
  /** Before the first poll answers nothing is known about a replica; it must not be trusted. */
  { name: 'a replica not polled yet takes no reads', ctx: c().with('connecting'), want: 'primary: no healthy replica' },
  /** Only healthy replicas go to the balancer: a down one in the mask would get reads. */
  { name: 'the allowed set holds exactly the up replicas', ctx: c().with('up@0/10', 'down@0/10', 'up@0/10', 'lagging@0/10', 'wrong-role'), want: 'replica [0,2]: replica: plain select' },
  /** Read-your-writes: a replica that has replayed the client's write serves its read. */
  { name: 'after a write, a replica that replayed it serves the read', ctx: c().with('up@0/5000').wrote('0/5000'), want: 'replica [0]: replica: plain select' },
  /** Check per replica at routing time (the issue): a global "caught up" flag would let the stale one read. */
  { name: 'after a write, only the replicas that replayed it are allowed', ctx: c().with('up@0/4FFF', 'up@0/6000', 'up@1/0').wrote('0/5000'), want: 'replica [1,2]: replica: plain select' },
  /** LSNs compare as 64-bit numbers: '9/0' is after '10/0' as text but before it as a position. */
  { name: 'replay positions compare as numbers, not as text', ctx: c().with('up@9/FFFFFFFF', 'up@10/0').wrote('10/0'), want: 'replica [1]: replica: plain select' },
  /** No replica has the write yet: wait for the next poll rather than read stale data. */
  { name: 'after a write no replica has replayed: wait for that position', ctx: c().with('up@0/4000').wrote('0/5000'), want: 'wait until 0/5000: wait: replica behind your write' },
  /** A committed write whose position is not known yet must not be read around. */
  { name: 'a pending write (position not known yet) waits', ctx: c().wrote('pending'), want: 'wait until pending: wait: replica behind your write' },
  /** After read_your_writes_timeout the read must not wait forever: the primary has the write. */
  { name: 'after the wait expired, a stale replica loses the read to the primary', ctx: c().with('up@0/4000').wrote('0/5000').waited(), want: 'primary: replica too stale' },
  /** A pending write with the wait expired goes to the primary too. */
  { name: 'a pending write after the wait goes to the primary', ctx: c().wrote('pending').waited(), want: 'primary: replica too stale' },
  /** read_your_writes = off means stale reads are accepted: no wait. */
  { name: 'read_your_writes = off reads from a stale replica at once', ctx: c().with('up@0/4000').wrote('0/5000').ryw('off'), want: 'replica [0]: replica: plain select' },
  /** A replica hint opts into the replica's lag: waiting would defeat the hint. */
  { name: 'a pgmux:replica comment hint reads from a stale replica without waiting', ctx: c().with('up@0/4000').wrote('0/5000').stmt({ ...SELECT, hint: 'replica' }), want: 'replica [0]: replica: plain select' },
  /** SET pgmux.route = replica likewise accepts lag for the session. */
  { name: 'SET pgmux.route = replica reads from a stale replica without waiting', ctx: c().with('up@0/4000').wrote('0/5000').session('replica'), want: 'replica [0]: replica: plain select' },
  /** Accepting lag never means accepting a down or lagging replica. */
  { name: 'a replica hint still never picks a lagging replica', ctx: c().with('lagging@0/4000').stmt({ ...SELECT, hint: 'replica' }), want: 'primary: no healthy replica' },
  /** Waiting only makes sense for a replica that can catch up: a down one cannot. */
  { name: 'after a write with only a down replica: the primary at once, no wait', ctx: c().with('down@0/4000').wrote('0/5000'), want: 'primary: no healthy replica' },
  /** A transaction's reads go to the primary whatever the write state (no wait inside a transaction). */
  { name: 'in a transaction a pending write does not cause a wait', ctx: c().inTx('transaction').wrote('pending'), want: 'primary: in transaction' },
  /** route=replica: the alias reads from replicas. */
  { name: 'read-only alias: a SELECT goes to the up replicas', ctx: c().alias().with('up@0/1', 'down@0/1'), want: 'replica [0]: replica: read-only database' },
  /** route=replica never uses the primary, even for a write (the replica refuses it itself). */
  { name: 'read-only alias: a write still goes to a replica', ctx: c().alias().stmt(INSERT), want: 'replica [0]: replica: read-only database' },
  /** route=replica in a transaction stays on replicas too. */
  { name: 'read-only alias: a transaction goes to a replica', ctx: c().alias().inTx('transaction'), want: 'replica [0]: replica: read-only database' },
  /** A read-only alias keeps read-your-writes among its replicas. */
  { name: 'read-only alias: after a write, only replicas that replayed it', ctx: c().alias().with('up@0/4000', 'up@0/5000').wrote('0/5000'), want: 'replica [1]: replica: read-only database' },
  /** ... and waits for one when none has. */
  { name: 'read-only alias: after a write none replayed, wait', ctx: c().alias().with('up@0/4000').wrote('0/5000'), want: 'wait until 0/5000: wait: replica behind your write' },
  /** After the wait a stale replica is better than an error on a database with no primary. */
  { name: 'read-only alias: after the wait, a stale replica', ctx: c().alias().with('up@0/4000').wrote('0/5000').waited(), want: 'replica [0]: replica: read-only database, replica behind your write' },
  /** With no healthy replica the alias waits for one (a replica restarting comes back in a poll or two). */
  { name: 'read-only alias with no healthy replica waits for any replica', ctx: c().alias().with('down', 'lagging@0/1'), want: 'wait until any replica: wait: no healthy replica' },
  /** ... and is refused after the wait instead of silently reading the primary. */
  { name: 'read-only alias with no healthy replica after the wait: refused', ctx: c().alias().with('down').waited(), want: 'refuse: read-only database has no healthy replica' },
];

describe('route(ctx)', () => {
  it.each(CASES.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    expect(show(route(row.ctx.context()))).toBe(row.want);
  });

  /** Purity: a second call with the same context must give the same answer (no hidden state). */
  it('is pure: the same context gives an equal decision every time', () => {
    for (const row of CASES) {
      const ctx = row.ctx.context();
      expect(route(ctx)).toEqual(route(ctx));
    }
  });

  /** The reason codes SHOW ROUTE documents are the ones route() gives. */
  it('names its own reasons with a target prefix', () => {
    for (const reason of Object.values(Reason)) expect(reason).toMatch(/^(primary|replica|wait|refuse): /);
  });
});
