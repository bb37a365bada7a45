// Owns running fuzz cases against a Target and judging them. Each case gets its own connection,
// is brought to its phase (nothing, a challenge, a login), sent its bytes, and judged by its
// verdict (lib-independent, ./oracle); then it ends with FIN (which must close within 5 s) or
// RST. Between batches: pgmux must be alive, the bystander unharmed, and pgmux back to the
// clients it had and to no more file descriptors than its server connections explain.
//
// Failure kinds: hang (no answer and no close within 5 s), slow (the FATAL came, the close later
// than 1 s), wrong (no FATAL where one was due, a wrong SQLSTATE, an answer without a close),
// setup (could not reach the case's phase), crash, fd-leak, slot-leak, bystander.

import { loadavg } from 'node:os';
import { cstr, startupPacket, typed } from './bytes';
import { errorFields, FuzzConnection, framesOf, md5Answer } from './connection';
import { FAMILIES, makeCase, type Case, type Family } from './families';
import { ADMIN_PASSWORD, type Target } from './target';

/** Nothing back and no close within this: a hang. */
export const HANG_MS = 5000;
/** A FATAL for garbage must be followed by the close within this of the last byte sent. */
export const FATAL_MS = 1000;

export type FailureKind = 'hang' | 'slow' | 'wrong' | 'setup' | 'crash' | 'fd-leak' | 'slot-leak' | 'bystander';

export interface Failure {
  readonly family: Family | 'run';
  readonly n: number;
  readonly kind: FailureKind;
  readonly detail: string;
}

export interface FamilyTally {
  cases: number;
  passes: number;
  failures: Partial<Record<FailureKind, number>>;
}

export interface Tally {
  seed: number;
  cases: number;
  elapsedMs: number;
  families: Record<Family, FamilyTally>;
  /** Checks between batches (family 'run'). */
  run: Partial<Record<FailureKind, number>>;
  /** The first few failures of each family and kind, with what was sent. */
  samples: Failure[];
  /** Every failed case's number (for --only). */
  failed: number[];
  /**
   * Cases slow only once: past FATAL_MS among the batch's concurrent cases, then within it when run
   * again alone after the batch (the same bytes, the same chunks, a new connection). A case pgmux
   * really waits on is slow again.
   */
  stalled: Failure[];
  crashed: boolean;
}

export interface RunOptions {
  seed: number;
  cases: number;
  /** First case number (to replay one: --from N --cases 1). */
  from?: number;
  /** Run exactly these case numbers instead (--only 17,4242). */
  only?: readonly number[];
  concurrency?: number;
  /** Cases between health checks. */
  batch?: number;
  progress?: (done: number, tally: Tally) => void;
}

export function emptyTally(seed: number): Tally {
  const families = {} as Record<Family, FamilyTally>;
  for (const f of FAMILIES) families[f] = { cases: 0, passes: 0, failures: {} };
  return { seed, cases: 0, elapsedMs: 0, families, run: {}, samples: [], failed: [], stalled: [], crashed: false };
}

export function failureCount(t: Tally): number {
  let n = 0;
  for (const f of FAMILIES) for (const v of Object.values(t.families[f].failures)) n += v ?? 0;
  for (const v of Object.values(t.run)) n += v ?? 0;
  return n;
}

function record(t: Tally, f: Failure): void {
  if (f.family === 'run') t.run[f.kind] = (t.run[f.kind] ?? 0) + 1;
  else {
    t.families[f.family].failures[f.kind] = (t.families[f.family].failures[f.kind] ?? 0) + 1;
    t.failed.push(f.n);
  }
  if (t.samples.filter((s) => s.family === f.family && s.kind === f.kind).length < 3) t.samples.push(f);
}

export async function runFuzz(target: Target, opts: RunOptions): Promise<Tally> {
  const tally = emptyTally(opts.seed);
  const started = Date.now();
  const concurrency = opts.concurrency ?? 12;
  const batch = opts.batch ?? 250;
  const from = opts.from ?? 0;
  const numbers = opts.only ?? Array.from({ length: opts.cases }, (_, i) => from + i);
  const base = { ...(await target.sockets()), fds: target.fds(), described: target.describeFds() };
  for (let start = 0; start < numbers.length && !tally.crashed; start += batch) {
    const end = Math.min(numbers.length, start + batch);
    let next = start;
    const worker = async (): Promise<void> => {
      while (next < end && !tally.crashed) {
        const n = numbers[next++]!;
        let c: Case;
        try {
          c = makeCase(opts.seed, n);
        } catch (err) {
          // A generator fault is the fuzzer's bug, not pgmux's: counted apart, and the run goes on.
          record(tally, { family: FAMILIES[n % FAMILIES.length]!, n, kind: 'setup', detail: `generator: ${(err as Error).message}` });
          continue;
        }
        const failure = await runCase(target, c);
        // Timing only: judged again once the batch is done, alone (see Tally.stalled).
        if (failure?.kind === 'slow') slow.push([c, failure]);
        else count(c, failure);
      }
    };
    const count = (c: Case, failure: Failure | null): void => {
      const fam = tally.families[c.family];
      fam.cases++;
      tally.cases++;
      if (failure === null) fam.passes++;
      else record(tally, failure);
      if (failure?.kind === 'crash') tally.crashed = true;
    };
    const slow: [Case, Failure][] = [];
    await Promise.all(Array.from({ length: concurrency }, worker));
    for (const [c, first] of slow) {
      const again = await runCase(target, c);
      if (again === null) tally.stalled.push(first);
      count(c, again);
    }
    for (const f of await healthCheck(target, base, numbers[end - 1]!)) {
      record(tally, f);
      if (f.kind === 'crash') tally.crashed = true;
    }
    tally.elapsedMs = Date.now() - started;
    opts.progress?.(end, tally);
  }
  tally.elapsedMs = Date.now() - started;
  return tally;
}

/** pgmux alive, the bystander unharmed, clients back to the baseline and no fd unexplained. */
async function healthCheck(target: Target, base: { clients: number; servers: number; fds: number; described: string }, n: number): Promise<Failure[]> {
  const run = (kind: FailureKind, detail: string): Failure => ({ family: 'run', n, kind, detail });
  if (!target.alive()) return [run('crash', `pgmux exited; its output ends: ${target.mux.logs().slice(-2000)}`)];
  const out: Failure[] = [];
  const harm = await target.checkBystander();
  if (harm !== null) out.push(run('bystander', harm));
  // Connections ended by RST (or FIN a moment ago) are noticed a little later: poll, with a deadline.
  const deadline = Date.now() + HANG_MS;
  let now = await target.sockets();
  let fds = target.fds();
  while ((now.clients !== base.clients || fds > base.fds + (now.servers - base.servers)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    now = await target.sockets();
    fds = target.fds();
  }
  if (now.clients !== base.clients) out.push(run('slot-leak', `SHOW CLIENTS lists ${now.clients} clients after the batch, ${base.clients} before the run`));
  if (fds > base.fds + (now.servers - base.servers)) {
    const unlisted = await target.unlisted();
    out.push(run('fd-leak', `${fds} fds open; ${base.fds} at the start, plus ${now.servers - base.servers} server connections since (SHOW SERVERS); open now: ${target.describeFds()}; open at the start: ${base.described}${unlisted === '' ? '' : `; connections to PostgreSQL not in SHOW SERVERS: ${unlisted}`}`));
  }
  return out;
}

function fail(c: Case, kind: FailureKind, detail: string): Failure {
  const bytes = c.bytes.length > 96 ? `${c.bytes.subarray(0, 96).toString('hex')}... (${c.bytes.length} bytes)` : c.bytes.toString('hex');
  return { family: c.family, n: c.n, kind, detail: `${detail}; expected ${c.verdict.kind} (${c.verdict.why}); setup ${JSON.stringify(c.setup)}; chunks ${c.chunks.join(',')} ${c.pause}; bytes ${bytes}` };
}

/** Runs one case on its own connection; null when it passed. */
export async function runCase(target: Target, c: Case): Promise<Failure | null> {
  let conn: FuzzConnection;
  try {
    conn = await FuzzConnection.open(target.port);
  } catch (err) {
    return target.alive() ? fail(c, 'setup', `connect: ${(err as Error).message}`) : fail(c, 'crash', 'pgmux is gone');
  }
  try {
    return await judge(target, c, conn);
  } finally {
    conn.destroy();
  }
}

async function judge(target: Target, c: Case, conn: FuzzConnection): Promise<Failure | null> {
  const setup = c.setup;
  let mark = 0;
  if (setup.kind !== 'none') {
    conn.socket.write(startupPacket([['user', setup.user], ['database', setup.database]]));
    const challenged = await conn.until(() => framesOf(conn.received).some((f) => f.type === 'R' || f.type === 'E'), Date.now() + HANG_MS);
    const first = framesOf(conn.received).find((f) => f.type === 'R' || f.type === 'E');
    if (!challenged || first === undefined) return fail(c, 'setup', `no challenge to the StartupMessage${conn.closed ? ' (closed)' : ''}`);
    if (first.type === 'E') return fail(c, 'setup', `login refused: ${errorFields(first.body).M}`);
    if (setup.kind === 'login') {
      if (first.body.readInt32BE(0) !== 5) return fail(c, 'setup', `expected an md5 challenge, got ${first.body.readInt32BE(0)}`);
      const password = setup.user === 'admin' ? ADMIN_PASSWORD : target.password;
      conn.socket.write(typed('p', cstr(md5Answer(setup.user, password, first.body.subarray(4, 8)))));
      if (!setup.pipelined) {
        const ready = await conn.until(() => framesOf(conn.received).some((f) => f.type === 'Z' || f.type === 'E'), Date.now() + HANG_MS);
        const frames = framesOf(conn.received);
        const refused = frames.find((f) => f.type === 'E');
        if (refused !== undefined) return fail(c, 'setup', `login refused: ${errorFields(refused.body).M}`);
        if (!ready) return fail(c, 'setup', 'no ReadyForQuery after the password');
      }
    }
    mark = conn.received.length;
  }
  await conn.deliver(c.bytes, c);
  const last = Date.now();
  if (setup.kind === 'login' && setup.pipelined) {
    // What answers the case comes after the login's ReadyForQuery (or is the refusal before it).
    await conn.until(() => framesOf(conn.received, mark).some((f) => f.type === 'Z' || f.type === 'E'), last + HANG_MS);
    mark = endOfLogin(conn.received, mark);
  }
  const v = c.verdict;
  if (v.kind === 'fatal') {
    const closed = await conn.untilClosed(last + HANG_MS);
    if (!closed) {
      return conn.received.length > mark ? fail(c, 'wrong', 'answered but did not close') : fail(c, 'hang', `neither a FATAL nor a close within ${HANG_MS} ms`);
    }
    const error = fatalAfter(conn.received, mark);
    if (error === null) return fail(c, 'wrong', `closed without a FATAL ErrorResponse (got ${conn.received.subarray(mark, mark + 64).toString('hex')})`);
    if (v.codes !== null && !v.codes.includes(error.C ?? '')) return fail(c, 'wrong', `FATAL ${error.C} "${error.M}", expected ${v.codes.join(' or ')}`);
    const took = (conn.closedAt as number) - last;
    if (took > FATAL_MS) return fail(c, 'slow', `FATAL "${error.M}" and close ${took} ms after the last byte (load average ${loadavg()[0].toFixed(1)})`);
    return null;
  }
  if (v.kind === 'answer') {
    const answered = await conn.until(() => conn.received.length > mark, last + HANG_MS);
    if (!answered && !conn.closed) return fail(c, 'hang', `no answer and no close within ${HANG_MS} ms`);
  }
  if (conn.closed) return null;
  conn.finish(c.ending);
  if (c.ending === 'rst') return null;
  const finAt = Date.now();
  if (!(await conn.untilClosed(finAt + HANG_MS))) return fail(c, 'hang', `FIN not followed by a close within ${HANG_MS} ms`);
  return null;
}

/** Where the login's reply ends (after its first ReadyForQuery), or the refusal that came instead. */
function endOfLogin(buf: Buffer, from: number): number {
  let pos = from;
  while (buf.length - pos >= 5) {
    const len = buf.readInt32BE(pos + 1);
    if (len < 4 || buf.length - pos < len + 1) break;
    const type = String.fromCharCode(buf[pos]!);
    if (type === 'E') return pos;
    pos += 1 + len;
    if (type === 'Z') return pos;
  }
  return pos;
}

/**
 * The FATAL ErrorResponse among the frames after `mark`, skipping the one-byte 'N' answers to
 * SSLRequest/GSSENCRequest that may come first; null when there is none.
 */
function fatalAfter(buf: Buffer, mark: number): Record<string, string> | null {
  for (let skip = 0; skip <= 4 && mark + skip <= buf.length; skip++) {
    if (skip > 0 && buf[mark + skip - 1] !== 0x4e) break;
    for (const f of framesOf(buf, mark + skip)) {
      if (f.type !== 'E') continue;
      const fields = errorFields(f.body);
      if (fields.S === 'FATAL') return fields;
    }
  }
  return null;
}
