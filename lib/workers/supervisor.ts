// Owns the main process when workers > 1: forks the workers (node:cluster, which shares the
// listening sockets), replaces one that dies, passes SIGHUP/SIGINT/SIGTERM to every worker,
// and carries the messages between workers (cancels, the console's gathers and broadcasts, the
// notes of commits in shared read_your_writes scopes, worker 0's probes of the hosts).
// It serves no client itself; the unix socket's stale-file check and the pidfile are its own.

import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import type { Config } from '../config';
import { NOTE_WAIT_MS } from './commit-share';
import { PROBING_WORKER } from './probe-share';
import { log } from '../log';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV, type ToMain, type ToWorker } from './messages';
import { prepareUnixSocket, removeStaleSocket, unixSocketFile } from './unix-socket';

/**
 * How long a SHOW or a scrape waits for a worker that does not answer (what came is shown).
 * Commands have no limit: PAUSE and WAIT_CLOSE wait for running transactions, as PgBouncer's do.
 */
const ANSWER_WAIT_MS = 5000;
/** A worker that dies sooner than this after its fork is replaced only after RESTART_DELAY_MS (no crash loop). */
const SHORT_LIFE_MS = 1000;
const RESTART_DELAY_MS = 1000;

type Signal = 'SIGHUP' | 'SIGINT' | 'SIGTERM';

interface Pending {
  /** Workers that still owe an answer. */
  waiting: Set<number>;
  parts: { worker: number; frames: string[] }[];
  errors: string[];
  finish(): void;
}

export class Supervisor {
  /** The live worker of each index. */
  private readonly workers = new Map<number, Worker>();
  /** Indexes whose worker has said it serves (listeners open). */
  private readonly ready = new Set<number>();
  /** When each worker was forked (Date.now()). */
  private readonly forkedAt = new WeakMap<Worker, number>();
  /** Every worker has served once: from then on a dead worker is replaced, not a failed start. */
  private started = false;
  /** A worker exited before the first start completed. */
  private failedStart = false;
  /** Called when `ready` or `failedStart` changes, while the start is awaited. */
  private onReadyChange: (() => void) | null = null;
  private stopping: Signal | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;

  constructor(
    private readonly config: Config,
    private readonly count: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Forks the workers; resolves to the exit code once they are all gone. */
  async run(): Promise<number> {
    const s = this.config.settings;
    const socket = unixSocketFile(s);
    if (socket !== null) await prepareUnixSocket(socket);
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    cluster.on('message', (worker, msg: ToMain) => this.message(worker, msg));
    for (let i = 0; i < this.count; i++) this.fork(i);
    const started = await this.allReady();
    if (!started) {
      log.error('a worker could not start; stopping the others');
      this.signal('SIGTERM');
      await this.done;
      return 1;
    }
    if (s.pidfile !== '') fs.writeFileSync(s.pidfile, `${process.pid}\n`);
    const handOff = cluster.schedulingPolicy === cluster.SCHED_RR ? 'round-robin' : "the kernel's choice (NODE_CLUSTER_SCHED_POLICY=none)";
    log.info(`process up: ${this.count} workers (node:cluster, connections handed out by ${handOff})`);
    const code = await this.done;
    if (socket !== null) removeStaleSocket(socket);
    if (s.pidfile !== '') fs.rmSync(s.pidfile, { force: true });
    return code;
  }

  /** SIGHUP, SIGINT or SIGTERM to the main process: the same to every worker. */
  signal(signal: Signal): void {
    if (signal !== 'SIGHUP') {
      if (this.stopping === 'SIGTERM') return;
      this.stopping = signal;
    }
    for (const worker of this.workers.values()) this.send(worker, { t: 'signal', signal });
    if (this.workers.size === 0 && this.stopping !== null) this.resolveDone(0);
  }

  private fork(index: number): void {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index), [WORKER_COUNT_ENV]: String(this.count) });
    this.workers.set(index, worker);
    workerIndex.set(worker, index);
    this.forkedAt.set(worker, Date.now());
  }

  /** Whether every worker came up (false as soon as one exits first). */
  private allReady(): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.failedStart) resolve(false);
        else if (this.ready.size === this.count) resolve(true);
        else this.onReadyChange = check;
      };
      check();
    });
  }

  private readyChanged(): void {
    const f = this.onReadyChange;
    this.onReadyChange = null;
    f?.();
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const index = workerIndex.get(worker);
    if (index === undefined || this.workers.get(index) !== worker) return;
    this.workers.delete(index);
    const wasReady = this.ready.delete(index);
    // Whatever a gone worker owed is not coming.
    for (const [id, p] of this.pending) if (p.waiting.delete(index) && p.waiting.size === 0) this.settle(id);
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    if (this.stopping !== null) {
      if (this.workers.size === 0) this.resolveDone(0);
      return;
    }
    if (!wasReady && !this.started) {
      log.error(`worker ${index} (pid ${worker.process.pid}) exited during start (${how})`);
      this.failedStart = true;
      this.readyChanged();
      if (this.workers.size === 0) this.resolveDone(1);
      return;
    }
    const quick = Date.now() - (this.forkedAt.get(worker) ?? 0) < SHORT_LIFE_MS;
    log.warn(`worker ${index} (pid ${worker.process.pid}) died (${how}); its clients were disconnected; starting a new worker ${index}${quick ? ` in ${RESTART_DELAY_MS} ms` : ''}`);
    if (!quick) this.fork(index);
    else {
      setTimeout(() => {
        if (this.stopping === null && !this.workers.has(index)) this.fork(index);
      }, RESTART_DELAY_MS);
    }
  }

  private message(worker: Worker, msg: ToMain): void {
    const from = workerIndex.get(worker);
    if (from === undefined) return;
    switch (msg.t) {
      case 'ready':
        this.ready.add(from);
        if (this.started && this.stopping === null) log.info(`worker ${from} (pid ${worker.process.pid}) serving`);
        if (this.ready.size === this.count) this.started = true;
        this.readyChanged();
        return;
      case 'cancel': {
        const target = this.workers.get(msg.worker);
        if (target !== undefined) this.send(target, { t: 'cancel', pid: msg.pid, secret: msg.secret });
        return;
      }
      case 'gather':
        this.ask(from, (id) => ({ t: 'render', id, arg: msg.arg }), (p) => ({ t: 'gathered', id: msg.id, parts: p.parts }));
        return;
      case 'scrape':
        this.ask(from, (id) => ({ t: 'metrics', id, openMetrics: msg.openMetrics }), (p) => ({ t: 'gathered', id: msg.id, parts: p.parts }));
        return;
      case 'broadcast':
        this.ask(from, (id) => ({ t: 'run', id, query: msg.query }), (p) => ({ t: 'ran', id: msg.id, errors: p.errors }), null);
        return;
      case 'probed':
      case 'probe-failed':
        for (const [index, w] of this.workers) if (index !== from) this.send(w, msg);
        return;
      case 'probe-ask': {
        const prober = this.workers.get(PROBING_WORKER);
        if (prober !== undefined) this.send(prober, msg);
        return;
      }
      case 'wrote':
        this.ask(from, (id) => ({ t: 'note', id, database: msg.database, keys: msg.keys }), (p) => ({ t: 'published', id: msg.id, late: p.errors }), NOTE_WAIT_MS);
        return;
      case 'shutdown':
        log.info('SHUTDOWN on the console: stopping every worker');
        this.signal('SIGTERM');
        return;
      case 'rendered':
      case 'done':
      case 'noted': {
        const p = this.pending.get(msg.id);
        if (p === undefined || !p.waiting.delete(from)) return;
        if (msg.t === 'rendered') p.parts.push({ worker: from, frames: msg.frames });
        else if (msg.t === 'done' && msg.error !== null) p.errors.push(`worker ${from}: ${msg.error}`);
        if (p.waiting.size === 0) this.settle(msg.id);
        return;
      }
    }
  }

  /**
   * Sends a request to every worker but `from`, and their answers back to `from`: all of them, or
   * what came within `limitMs` (null: no limit), the others named in the errors.
   */
  private ask(from: number, request: (id: number) => ToWorker, reply: (p: Pending) => ToWorker, limitMs: number | null = ANSWER_WAIT_MS): void {
    const id = this.nextId++;
    const timer = limitMs === null ? undefined : setTimeout(() => {
      const p = this.pending.get(id);
      if (p === undefined) return;
      for (const w of p.waiting) p.errors.push(`worker ${w}: no answer within ${limitMs} ms`);
      this.settle(id);
    }, limitMs);
    const p: Pending = {
      waiting: new Set(),
      parts: [],
      errors: [],
      finish: () => {
        clearTimeout(timer);
        const origin = this.workers.get(from);
        if (origin !== undefined) this.send(origin, reply(p));
      },
    };
    this.pending.set(id, p);
    for (const [index, worker] of this.workers) {
      if (index === from) continue;
      p.waiting.add(index);
      this.send(worker, request(id));
    }
    if (p.waiting.size === 0) this.settle(id);
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.finish();
  }

  private send(worker: Worker, msg: ToWorker): void {
    // A worker that is going away may have closed its channel: it answers nothing then.
    if (worker.isConnected()) worker.send(msg, (err: Error | null) => err !== null && log.debug(`message to worker failed: ${err.message}`));
  }
}

const workerIndex = new WeakMap<Worker, number>();
