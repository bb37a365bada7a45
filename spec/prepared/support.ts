// Owns what the prepared-statement specs share: roles whose statements PostgreSQL logs, pgmux in
// front of the cluster, reading the server log for where statements were parsed and run, a
// "swapper" that decides which of a pool's two servers a client gets next, a raw protocol
// client, and running driver scripts as child processes.
//
// Server-side evidence comes from PostgreSQL's own log: each role here has
// log_min_duration_statement = 0, so every Parse, Bind, Execute and simple Query of that role is
// logged with the backend's PID ("duration: .. ms  parse pgmux_3: SELECT ..").

import { createServer, connect, type Server, type Socket } from 'node:net';
import { Client, escapeLiteral } from 'pg';
import { Child, raceTimeout } from '../support/child';
import { startCluster, type Cluster } from '../support/cluster';
import { runPgmux, type Running } from '../support/front';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { RawClient, errorFields, type Frame } from '../support/wire';

// ---- roles and pgmux ----

/** LOGIN roles with the cluster's password, members of app, whose statements the server logs. */
export async function createLoggedRoles(cluster: Cluster, names: readonly string[]): Promise<void> {
  const pw = escapeLiteral(cluster.password);
  const sql = names
    .map((n) => `CREATE ROLE ${n} LOGIN PASSWORD ${pw}; GRANT app TO ${n}; ALTER ROLE ${n} SET log_min_duration_statement = 0;`)
    .join('\n');
  await cluster.query(cluster.primary, sql, 'postgres', 'postgres');
}

export type Front = Running;

/**
 * pgmux in front of the primary: database app, auth_type trust over an auth_file with every
 * role, transaction mode with default_pool_size = 2 and max_client_conn = 200 unless `settings`
 * says otherwise.
 */
export function startFront(cluster: Cluster, roles: readonly string[], settings: Record<string, string | number> = {}): Promise<Front> {
  return runPgmux(cluster, { roles, settings: { max_client_conn: 200, ...settings } });
}

// ---- the server log ----

export interface LogEvent {
  pid: number;
  /** parse / bind / execute (extended protocol), statement (simple Query), error. */
  kind: 'parse' | 'bind' | 'execute' | 'statement' | 'error';
  /** Statement name for parse/bind/execute ("<unnamed>" for the unnamed one). */
  name: string;
  /** The rest of the first log line: statement text, or the error message. */
  text: string;
}

const LINE = /^\S+ \S+ \S+ \[(\d+)\] (LOG|ERROR):\s+(.*)$/;
const DURATION = /^duration: [\d.]+ ms\s+(parse|bind|execute|statement)\s*([^:]*):\s?(.*)$/;

/** What the server logged, as events, in order. */
export function serverEvents(cluster: Cluster): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of cluster.logs(cluster.primary).split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (m[2] === 'ERROR') {
      out.push({ pid, kind: 'error', name: '', text: m[3] });
      continue;
    }
    const d = DURATION.exec(m[3]);
    if (d === null) continue;
    const kind = d[1] as LogEvent['kind'];
    // "bind S_1/C_2", "execute S_1/C_2": statement name, then the portal.
    const name = kind === 'statement' ? '' : d[2].split('/')[0];
    out.push({ pid, kind, name, text: d[3] });
  }
  return out;
}

/** Events whose text contains `tag` (each spec puts a unique tag in its SQL). */
export function eventsWith(cluster: Cluster, tag: string): LogEvent[] {
  return serverEvents(cluster).filter((e) => e.text.includes(tag));
}

/** Distinct PIDs among events, sorted. */
export function pidsOf(events: readonly LogEvent[]): number[] {
  return [...new Set(events.map((e) => e.pid))].sort((a, b) => a - b);
}

/** Waits until the server log holds at least `count` events of `kind` containing `tag`. */
export function logged(cluster: Cluster, tag: string, kind: LogEvent['kind'], count: number): Promise<LogEvent[]> {
  return waitFor(`${count} "${kind}" log lines containing ${tag}`, () => {
    const found = eventsWith(cluster, tag).filter((e) => e.kind === kind);
    return found.length >= count ? found : undefined;
  });
}

// ---- which server a client gets: the swapper ----

/**
 * With default_pool_size = 2, keeps one server of a pool busy so that whatever the client under
 * test runs next goes to the other one. Two holder clients take turns: one sits in BEGIN on
 * server X; to move the client under test from Y to X, the other holder BEGINs (getting Y, the
 * only free one) and the first commits. So a client's statements land on the two servers in
 * turn, and each must be prepared again on the server it lands on.
 *
 * Child processes ask for a swap over TCP: connect to `port`, read one byte (the swap is done).
 */
export class Swapper {
  /** Backend PIDs of the two servers, [first held, second held]. */
  readonly pids: number[] = [];
  private holding = 0;
  private server: Server | null = null;
  port = 0;

  private constructor(private readonly holders: [Client, Client]) {}

  /** Connects the holders and takes the first server; the client under test gets the other. */
  static async start(front: Front, user: string): Promise<Swapper> {
    const s = new Swapper([await front.connect(user), await front.connect(user)]);
    s.pids.push(await s.hold(0));
    return s;
  }

  /** The server the client under test gets next. */
  get freePid(): number | undefined {
    return this.pids[1 - this.holding];
  }

  /** Moves the client under test to the other server. */
  async swap(): Promise<void> {
    const other = 1 - this.holding;
    const pid = await this.hold(other);
    if (this.pids.length < 2) this.pids.push(pid);
    await this.holders[this.holding].query('COMMIT');
    this.holding = other;
  }

  /** Accepts swap requests from child processes on `port`. */
  async listen(): Promise<number> {
    this.port = await freePort();
    const server = createServer((socket: Socket) => {
      void this.swap().then(
        () => socket.end('g'),
        () => socket.destroy(),
      );
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    return this.port;
  }

  async stop(): Promise<void> {
    await this.holders[this.holding].query('COMMIT').catch(() => undefined);
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async hold(i: number): Promise<number> {
    await this.holders[i].query('BEGIN');
    const r = await this.holders[i].query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return r.rows[0].pid;
  }
}

/** A child's swap request, in-process: what a driver script does between rounds. */
export function askSwap(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('data', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}

// ---- running driver scripts ----

export interface ScriptRun {
  code: number | null;
  output: string;
  /** The JSON objects the script printed, one per line. */
  records: Record<string, unknown>[];
}

/** Runs a script to completion (stopped by PID after `timeoutMs`), parsing its JSON lines. */
export async function runScript(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60000): Promise<ScriptRun> {
  const child = await Child.start(command, args, { label, env: { ...process.env, ...env }, emergencySignal: 'SIGKILL' });
  const info = await raceTimeout(child.exited, timeoutMs);
  if (info === undefined) {
    await child.stop([
      { signal: 'SIGTERM', waitMs: 2000 },
      { signal: 'SIGKILL', waitMs: 2000 },
    ]);
    throw child.failure(`${label} did not finish within ${timeoutMs} ms`);
  }
  // 'exit' may come before the last output: wait for the pipes, as the child helper does.
  await child.exitFailure('');
  const output = child.logs();
  const records = output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: info.code, output, records };
}

// ---- raw protocol ----

// The raw client and its frame type are the specs' shared one (spec/support/wire.ts); the builders here
// add what prepared-statement specs need (typed Parse, binary Bind, Describe, Close).
export { RawClient, errorFields, type Frame, waitFor };

const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');

function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function frame(type: string, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(payload.length + 4), payload]);
}

/** Frontend messages, built here byte by byte (independent of lib/protocol). */
export const fe = {
  query: (sql: string) => frame('Q', cstr(sql)),
  parse: (name: string, sql: string, types: readonly number[] = []) => frame('P', cstr(name), cstr(sql), i16(types.length), ...types.map(i32)),
  /** Bind; params as text strings, or Buffers sent in binary when `binary` is set. */
  bind: (statement: string, params: readonly (string | Buffer | null)[] = [], opts: { portal?: string; binaryParams?: boolean; binaryResults?: boolean } = {}) =>
    frame(
      'B',
      cstr(opts.portal ?? ''),
      cstr(statement),
      opts.binaryParams ? Buffer.concat([i16(1), i16(1)]) : i16(0),
      i16(params.length),
      ...params.map((p) => (p === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(p)), typeof p === 'string' ? Buffer.from(p, 'utf8') : p]))),
      opts.binaryResults ? Buffer.concat([i16(1), i16(1)]) : i16(0),
    ),
  describe: (target: 'S' | 'P', name: string) => frame('D', Buffer.from(target), cstr(name)),
  execute: (portal = '', maxRows = 0) => frame('E', cstr(portal), i32(maxRows)),
  close: (target: 'S' | 'P', name: string) => frame('C', Buffer.from(target), cstr(name)),
  flush: () => frame('H'),
  sync: () => frame('S'),
};

/** Text values of a DataRow (null for SQL NULL). */
export function dataRow(body: Buffer, binary = false): (string | Buffer | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | Buffer | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      const v = body.subarray(pos, pos + len);
      out.push(binary ? Buffer.from(v) : v.toString('utf8'));
      pos += len;
    }
  }
  return out;
}

/** The types of frames, e.g. "1 2 T D C Z" for ParseComplete BindComplete RowDescription ... */
export function types(frames: readonly Frame[]): string {
  return frames.map((f) => f.type).join(' ');
}


// ---- transcripts: the same bytes straight to PostgreSQL and through pgmux ----

/**
 * One frame as the transcript shows it. Errors keep what a client reads (severity, SQLSTATE,
 * message, detail, hint, position), not the server's source file and line.
 */
export function show(f: Frame): string {
  switch (f.type) {
    case 'E': {
      const e = errorFields(f.body);
      return `E ${e.S} ${e.C} ${e.M}${e.D === undefined ? '' : ` D:${e.D}`}${e.H === undefined ? '' : ` H:${e.H}`}${e.P === undefined ? '' : ` @${e.P}`}`;
    }
    case 'D':
      return `D ${JSON.stringify(dataRow(f.body))}`;
    case 'C':
      return `C ${f.body.toString('utf8', 0, f.body.length - 1)}`;
    case 'Z':
      return `Z ${String.fromCharCode(f.body[0] ?? 0)}`;
    case 'T': {
      // Column names only: the rest (table OIDs, type modifiers) is the server's and not in question.
      const n = f.body.readInt16BE(0);
      const names: string[] = [];
      let pos = 2;
      for (let i = 0; i < n; i++) {
        const end = f.body.indexOf(0, pos);
        names.push(f.body.toString('utf8', pos, end));
        pos = end + 1 + 18;
      }
      return `T ${names.join(',')}`;
    }
    default:
      return f.type;
  }
}

/** Sends `bytes` and reads through the `syncs`-th ReadyForQuery. */
export async function transcript(c: RawClient, bytes: Buffer[], syncs: number): Promise<string[]> {
  c.send(...bytes);
  const out: string[] = [];
  for (let seen = 0; seen < syncs; ) {
    const f = await c.next();
    out.push(show(f));
    if (f.type === 'Z') seen++;
  }
  return out;
}

/** Runs each step on both connections; returns PostgreSQL's transcript after checking pgmux's equals it. */
export async function both(pg: RawClient, mux: RawClient, steps: [Buffer[], number][]): Promise<string[]> {
  const direct: string[] = [];
  const pooled: string[] = [];
  for (const [bytes, syncs] of steps) {
    direct.push(...(await transcript(pg, bytes, syncs)));
    pooled.push(...(await transcript(mux, bytes, syncs)));
  }
  expect(pooled).toEqual(direct);
  return direct;
}


/** What sideBySide gives a spec file. */
export interface SideBySide {
  readonly cluster: Cluster;
  readonly front: Front;
  /**
   * A raw connection straight to PostgreSQL (md5 over TCP) and one through pgmux, as the same
   * role; with `swapping`, a Swapper started first, whose swap() moves the pgmux client to the
   * other server.
   */
  pair(swapping?: boolean): Promise<{ pg: RawClient; mux: RawClient; swap: () => Promise<void> }>;
  /** A Swapper or raw connection the test made itself, stopped or closed after it. */
  keep<T extends Swapper | RawClient>(x: T): T;
}

/**
 * The hooks of a spec file that sends the same frames to PostgreSQL and through pgmux as `user`:
 * a throwaway cluster and a pgmux in front of it for the file, each test's connections and
 * Swappers closed after it.
 */
export function sideBySide(user: string): SideBySide {
  let cluster: Cluster | undefined;
  let front: Front | undefined;
  const raws: RawClient[] = [];
  const swappers: Swapper[] = [];
  beforeAll(async () => {
    cluster = await startCluster();
    front = await startFront(cluster, [user]);
  });
  afterEach(async () => {
    await Promise.all(raws.splice(0).map((r) => r.close().catch(() => undefined)));
    await Promise.all(swappers.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await front?.stop();
    await cluster?.stop();
  });
  const env: SideBySide = {
    get cluster(): Cluster {
      return cluster as Cluster;
    },
    get front(): Front {
      return front as Front;
    },
    async pair(swapping = true) {
      const sw = swapping ? env.keep(await Swapper.start(env.front, user)) : null;
      const pg = env.keep(await RawClient.login(env.cluster.primary.port, user, env.cluster.password));
      const mux = env.keep(await RawClient.login(env.front.port, user, env.cluster.password));
      return { pg, mux, swap: async () => (sw === null ? Promise.reject(new Error('pair(false) has no Swapper')) : sw.swap()) };
    },
    keep<T extends Swapper | RawClient>(x: T): T {
      if (x instanceof Swapper) swappers.push(x);
      else raws.push(x as RawClient);
      return x;
    },
  };
  return env;
}
