// Owns the drill's idle clients: node-postgres connections to the pooler that each, a few times
// a second, INSERT a row with their own unique (client, seq) key and then read that row back,
// recording every acknowledged write and every error (SQLSTATE, what the client was doing, when).

import { Socket } from 'node:net';
import { Client, DatabaseError } from 'pg';
import { raceTimeout } from '../support/child';

export type IdleAction = 'connect' | 'insert' | 'select' | 'idle';

/**
 * What an error says about an INSERT's commit: 'not-committed' is an ERROR from PostgreSQL
 * itself that leaves the connection usable (the implicit transaction was rolled back);
 * 'unknown' is anything that may have hit after the commit (the connection lost, FATAL,
 * SQLSTATE classes 08 and 57, no answer). Only a not-committed write found on the primary is
 * a phantom.
 */
export type Outcome = 'not-committed' | 'unknown';

export interface IdleError {
  client: number;
  action: IdleAction;
  /** The SQLSTATE, or for errors without one the system error code or 'no answer'/'closed'. */
  code: string;
  message: string;
  /** ms since the epoch: when the operation was sent (for 'idle': when the connection died). */
  startedAt: number;
  endedAt: number;
  /** For insert errors: whether the row may have been committed. */
  outcome?: Outcome;
  /** The client's TCP port, to find its connection in the pooler's log ("app/app@127.0.0.1:<port>"). */
  localPort?: number;
  /** The (client, seq) key of the write, for insert errors and for reads of it. */
  seq?: number;
}

export interface IdleResults {
  clients: number;
  /** "client:seq" -> ms since the epoch when the INSERT was acknowledged. */
  acknowledged: Map<string, number>;
  /** Keys whose INSERT failed, by outcome. */
  failedWrites: Map<string, Outcome>;
  errors: IdleError[];
  inserts: number;
  selects: number;
  /** Reads of the client's own acknowledged write that found no row. */
  staleReads: IdleError[];
  /** Reads that found the row more than once. */
  doubleReads: IdleError[];
}

export interface IdleFleet {
  /** Resolves when every client has connected once (rejects on the first that cannot). */
  ready: Promise<void>;
  /**
   * Stops starting operations; waits up to `graceMs` for running ones, records those still
   * unanswered as errors ('no answer'), then closes every connection.
   */
  stop(graceMs: number): Promise<IdleResults>;
}

export interface IdleOptions {
  port: number;
  user: string;
  password: string;
  database: string;
  clients: number;
  /** Mean ms between the starts of a client's rounds (each round: INSERT, then SELECT). */
  periodMs: number;
}

export const DRILL_TABLE = 'drill_writes';
/** No unique constraint: a write applied twice must be visible as two rows. */
export const DRILL_TABLE_DDL = `CREATE TABLE ${DRILL_TABLE} (client int NOT NULL, seq int NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON ${DRILL_TABLE} (client, seq);`;
const INSERT = `INSERT INTO ${DRILL_TABLE} (client, seq) VALUES ($1, $2)`;
const SELECT = `SELECT count(*)::int AS n FROM ${DRILL_TABLE} WHERE client = $1 AND seq = $2`;

export const writeKey = (client: number, seq: number): string => `${client}:${seq}`;

interface Conn {
  client: Client;
  socket: Socket;
  dead: boolean;
  /** Read when the socket connects: a destroyed socket no longer has it. */
  localPort?: number;
}

/** SQLSTATE classes (or codes) after which an INSERT may have committed. */
function outcomeOf(err: unknown, connDead: boolean): Outcome {
  if (!(err instanceof DatabaseError) || connDead) return 'unknown';
  const code = err.code ?? '';
  if (err.severity === 'FATAL' || err.severity === 'PANIC') return 'unknown';
  if (code.startsWith('08') || code.startsWith('57') || code.startsWith('58') || code === 'XX000') return 'unknown';
  return 'not-committed';
}

function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof DatabaseError) return { code: err.code ?? 'no SQLSTATE', message: `${err.severity ?? ''} ${err.message}`.trim() };
  const e = err as NodeJS.ErrnoException;
  return { code: typeof e?.code === 'string' ? e.code : 'closed', message: e?.message ?? String(err) };
}

class IdleClient {
  private conn: Conn | undefined;
  /** The connection in use or being opened: what abandon() closes. */
  private current: Conn | undefined;
  private seq = 0;
  private stopping = false;
  private readonly wake = { timer: undefined as NodeJS.Timeout | undefined, resolve: undefined as (() => void) | undefined };
  /** The operation in flight, for abandon(): what it is and since when. */
  private pending: { action: IdleAction; startedAt: number; seq?: number } | undefined;
  readonly done: Promise<void>;
  readonly connectedOnce: Promise<void>;

  constructor(
    readonly id: number,
    private readonly opts: IdleOptions,
    private readonly out: IdleResults,
  ) {
    let firstConnect: (err?: Error) => void = () => undefined;
    this.connectedOnce = new Promise<void>((resolve, reject) => {
      firstConnect = (err) => (err ? reject(err) : resolve());
    });
    this.done = this.loop(firstConnect);
  }

  private async loop(firstConnect: (err?: Error) => void): Promise<void> {
    const first = await this.connect();
    firstConnect(first ? undefined : new Error(`idle client ${this.id} could not connect: ${this.out.errors.at(-1)?.message ?? ''}`));
    if (!first) return;
    // A random phase, so the clients' rounds spread over the period instead of marching together.
    await this.sleep(Math.random() * this.opts.periodMs);
    while (!this.stopping) {
      const roundStart = Date.now();
      await this.round();
      const jittered = this.opts.periodMs * (0.5 + Math.random());
      await this.sleep(Math.max(0, roundStart + jittered - Date.now()));
    }
  }

  private async round(): Promise<void> {
    if (!this.conn || this.conn.dead) {
      this.drop();
      if (!(await this.connect())) return;
    }
    const conn = this.conn as Conn;
    const seq = ++this.seq;
    const key = writeKey(this.id, seq);
    const wrote = await this.op('insert', seq, () => conn.client.query(INSERT, [this.id, seq]));
    if (!wrote.ok) {
      // abandon() has recorded an unanswered write already.
      if (wrote.outcome !== undefined) this.out.failedWrites.set(key, wrote.outcome);
      return;
    }
    this.out.acknowledged.set(key, wrote.endedAt);
    const read = await this.op('select', seq, () => conn.client.query(SELECT, [this.id, seq]));
    if (!read.ok) return;
    const n = Number(read.rows?.[0]?.n);
    if (n !== 1) {
      const record: IdleError = {
        client: this.id,
        action: 'select',
        code: n === 0 ? 'stale read' : 'read twice',
        message: `read of its own acknowledged write (${key}) found ${n} rows`,
        startedAt: read.startedAt,
        endedAt: read.endedAt,
        seq,
      };
      (n === 0 ? this.out.staleReads : this.out.doubleReads).push(record);
    }
  }

  private async op(
    action: 'insert' | 'select',
    seq: number,
    run: () => Promise<{ rows: Array<Record<string, unknown>> }>,
  ): Promise<{ ok: boolean; startedAt: number; endedAt: number; outcome?: Outcome; rows?: Array<Record<string, unknown>> }> {
    const startedAt = Date.now();
    this.pending = { action, startedAt, seq };
    if (action === 'insert') this.out.inserts++;
    else this.out.selects++;
    try {
      const r = await run();
      return { ok: true, startedAt, endedAt: Date.now(), rows: r.rows };
    } catch (err) {
      const endedAt = Date.now();
      // abandon() already recorded it as unanswered and closed the socket.
      if (this.pending === undefined) return { ok: false, startedAt, endedAt };
      const { code, message } = describeError(err);
      const conn = this.conn;
      // A FATAL or a lost connection ends it: its closing is part of this error, not another.
      if (conn && (!(err instanceof DatabaseError) || err.severity === 'FATAL' || err.severity === 'PANIC')) conn.dead = true;
      const record: IdleError = { client: this.id, action, code, message, startedAt, endedAt, seq, localPort: conn?.localPort };
      if (action === 'insert') record.outcome = outcomeOf(err, conn?.dead ?? true);
      this.out.errors.push(record);
      return { ok: false, startedAt, endedAt, outcome: record.outcome };
    } finally {
      this.pending = undefined;
    }
  }

  private async connect(): Promise<boolean> {
    const startedAt = Date.now();
    this.pending = { action: 'connect', startedAt };
    const socket = new Socket();

    const client = new Client({
      host: '127.0.0.1',
      port: this.opts.port,
      user: this.opts.user,
      password: this.opts.password,
      database: this.opts.database,
      stream: () => socket,
    });
    const conn: Conn = { client, socket, dead: false };
    this.current = conn;
    socket.once('connect', () => (conn.localPort = socket.localPort));
    // An error or end while no query runs is the connection dying under an idle client.
    client.on('error', (err) => {
      if (conn.dead) return;
      conn.dead = true;
      if (this.pending === undefined && !this.stopping && this.conn === conn) {
        const { code, message } = describeError(err);
        this.out.errors.push({ client: this.id, action: 'idle', code, message, startedAt: Date.now(), endedAt: Date.now(), localPort: conn.localPort });
      }
    });
    client.on('end', () => {
      if (conn.dead) return;
      conn.dead = true;
      if (this.pending === undefined && !this.stopping && this.conn === conn) {
        this.out.errors.push({ client: this.id, action: 'idle', code: 'closed', message: 'the pooler closed the connection of an idle client', startedAt: Date.now(), endedAt: Date.now(), localPort: conn.localPort });
      }
    });
    try {
      await client.connect();
      this.conn = conn;
      return true;
    } catch (err) {
      conn.dead = true;
      socket.destroy();
      if (this.pending !== undefined) {
        const { code, message } = describeError(err);
        this.out.errors.push({ client: this.id, action: 'connect', code, message, startedAt, endedAt: Date.now(), localPort: conn.localPort });
      }
      return false;
    } finally {
      this.pending = undefined;
    }
  }

  private drop(): void {
    this.current?.socket.destroy();
    this.current = undefined;
    this.conn = undefined;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake.resolve = resolve;
      this.wake.timer = setTimeout(resolve, ms);
    });
  }

  /** Stop starting rounds (and end a sleep at once). */
  halt(): void {
    this.stopping = true;
    if (this.wake.timer) clearTimeout(this.wake.timer);
    this.wake.resolve?.();
  }

  /** After the grace period: an operation still running is an error with no answer. */
  abandon(): void {
    const p = this.pending;
    if (p) {
      const now = Date.now();
      const record: IdleError = { client: this.id, action: p.action, code: 'no answer', message: 'still waiting for an answer when the drill ended', startedAt: p.startedAt, endedAt: now, localPort: this.current?.localPort };
      if (p.seq !== undefined) {
        record.seq = p.seq;
        if (p.action === 'insert') {
          record.outcome = 'unknown';
          this.out.failedWrites.set(writeKey(this.id, p.seq), 'unknown');
        }
      }
      this.out.errors.push(record);
      this.pending = undefined;
    }
    this.drop();
  }

  /** Terminate politely when the connection is usable, else just close the socket. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.current = undefined;
    if (!conn) return;
    if (conn.dead) {
      conn.socket.destroy();
      return;
    }
    conn.dead = true;
    await raceTimeout(conn.client.end().catch(() => undefined), 1000);
    conn.socket.destroy();
  }
}

/** Starts `opts.clients` idle clients; each connects, then runs rounds until stop(). */
export function startIdleClients(opts: IdleOptions): IdleFleet {
  const out: IdleResults = {
    clients: opts.clients,
    acknowledged: new Map(),
    failedWrites: new Map(),
    errors: [],
    inserts: 0,
    selects: 0,
    staleReads: [],
    doubleReads: [],
  };
  const clients = Array.from({ length: opts.clients }, (_, i) => new IdleClient(i + 1, opts, out));
  const ready = Promise.all(clients.map((c) => c.connectedOnce)).then(() => undefined);
  // A failed first connect rejects `ready`; keep the others' rejections from going unhandled.
  for (const c of clients) c.connectedOnce.catch(() => undefined);
  return {
    ready,
    async stop(graceMs) {
      for (const c of clients) c.halt();
      const all = Promise.all(clients.map((c) => c.done));
      await raceTimeout(all, graceMs);
      for (const c of clients) c.abandon();
      await all;
      await Promise.all(clients.map((c) => c.close()));
      return out;
    },
  };
}
