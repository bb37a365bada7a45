// Owns the main process when workers > 1: forks the workers (node:cluster, which shares the
// listening sockets), replaces one that dies, passes SIGHUP/SIGINT/SIGTERM to every worker,
// and carries the messages between workers (cancels, the console's gathers and broadcasts, the
// notes of commits in shared read_your_writes scopes, worker 0's probes of the hosts), and runs
// a restart (SIGUSR2): a fresh worker per index, to which the old one hands its clients
// (./handover). It serves no client itself; the unix socket's stale-file check and the pidfile
// are its own.

import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import type { Config } from '../config';
import type { SendHandle } from 'node:child_process';
import { NOTE_WAIT_MS } from './commit-share';
import { PROBING_WORKER } from './probe-share';
import { log } from '../log';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV, type ToMain, type ToWorker } from './messages';
import type { CarriedSession } from '../client/carried-session';
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
  waiting: Set<Worker>;
  parts: { worker: number; frames: string[] }[];
  errors: string[];
  finish(): void;
}

export class Supervisor {
  /** The live worker of each index. */
  private readonly workers = new Map<number, Worker>();
  /** Workers that have said they serve (listeners open). */
  private readonly ready = new Set<Worker>();
  /** A restart: the old worker of each index, handing its clients to the new one, until it exits. */
  private readonly retiring = new Map<number, Worker>();
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
    // node's IPC also carries raw TCP and pipe handles (a restart's clients), which its types do not list.
    cluster.on('message', (worker, msg: ToMain, handle: unknown) => this.message(worker, msg, handle as IpcHandle | undefined));
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

  /** SIGHUP, SIGINT or SIGTERM to the main process: the same to every worker (old ones of a restart too). */
  signal(signal: Signal): void {
    if (signal !== 'SIGHUP') {
      if (this.stopping === 'SIGTERM') return;
      this.stopping = signal;
    }
    for (const worker of [...this.workers.values(), ...this.retiring.values()]) this.send(worker, { t: 'signal', signal });
    this.checkStopped();
  }

  /**
   * SIGUSR2: a fresh worker for every index, from the code on disk. Each old worker stops
   * accepting once its successor serves and hands its clients over, each at a transaction
   * boundary; it exits when it has none left (./handover).
   */
  restart(): void {
    if (this.stopping !== null) return;
    if (this.retiring.size > 0) {
      const old = [...this.retiring].map(([i, w]) => `worker ${i} (pid ${w.process.pid})`).join(', ');
      log.warn(`got SIGUSR2 while a restart is under way (still handing clients over: ${old}); ignored`);
      return;
    }
    log.info(`got SIGUSR2: restarting ${this.workers.size} workers from the code on disk; each hands its clients to its successor at their next transaction boundary`);
    for (const [index, old] of [...this.workers]) {
      this.retiring.set(index, old);
      this.fork(index);
    }
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
        else if (this.ready.size >= this.count) resolve(true);
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

  /** "worker 0 pid 4242, worker 1 pid 4243" (for the log). */
  private pidList(): string {
    return [...this.workers].sort((a, b) => a[0] - b[0]).map(([i, w]) => `worker ${i} pid ${w.process.pid}`).join(', ');
  }

  private checkStopped(): void {
    if (this.stopping !== null && this.workers.size === 0 && this.retiring.size === 0) this.resolveDone(0);
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const index = workerIndex.get(worker);
    if (index === undefined) return;
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    const wasReady = this.ready.delete(worker);
    // Whatever a gone worker owed is not coming.
    for (const [id, p] of this.pending) if (p.waiting.delete(worker) && p.waiting.size === 0) this.settle(id);
    if (this.retiring.get(index) === worker) {
      this.retiring.delete(index);
      if (code === 0) log.info(`restart: old worker ${index} (pid ${worker.process.pid}) exited`);
      else log.warn(`restart: old worker ${index} (pid ${worker.process.pid}) died (${how}); the clients it still had were disconnected`);
      if (this.retiring.size === 0 && this.stopping === null) log.info(`restart done: every worker runs the code on disk (${this.pidList()})`);
      this.checkStopped();
      return;
    }
    if (this.workers.get(index) !== worker) return;
    this.workers.delete(index);
    if (this.stopping !== null) {
      this.checkStopped();
      return;
    }
    const old = this.retiring.get(index);
    if (old !== undefined && !wasReady) {
      // The new code does not start (a broken install): the old worker was told nothing yet and goes on serving.
      this.retiring.delete(index);
      this.workers.set(index, old);
      log.error(`restart: the new worker ${index} (pid ${worker.process.pid}) exited before it served (${how}); worker ${index} (pid ${old.process.pid}) keeps serving with the code it started with; fix the installed pgmux and send SIGUSR2 again`);
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

  /** A client the old worker `from` handed over goes to the new worker of its index, with its socket handle. */
  private passOn(from: number, sender: Worker, client: CarriedSession, handle: IpcHandle | undefined): void {
    if (handle === undefined) return;
    const target = this.workers.get(from);
    if (target === undefined || target === sender || !this.ready.has(target) || !target.isConnected()) {
      handle.close();
      log.warn(`restart: a client of worker ${from} was handed over while no new worker ${from} serves; its connection is closed`);
      return;
    }
    const msg: ToWorker = { t: 'adopt', client };
    // This process's copy of the descriptor closes once the new worker has its own.
    target.send(msg, handle as unknown as SendHandle, undefined, () => handle.close());
  }

  private message(worker: Worker, msg: ToMain, handle?: IpcHandle): void {
    const from = workerIndex.get(worker);
    if (from === undefined) return;
    switch (msg.t) {
      case 'ready': {
        this.ready.add(worker);
        if (this.started && this.stopping === null) log.info(`worker ${from} (pid ${worker.process.pid}) serving`);
        if (this.ready.size >= this.count) this.started = true;
        this.readyChanged();
        const old = this.retiring.get(from);
        if (old !== undefined && this.workers.get(from) === worker) {
          log.info(`restart: worker ${from} (pid ${old.process.pid}) stops accepting and hands its clients to worker ${from} (pid ${worker.process.pid})`);
          this.send(old, { t: 'retire' });
        }
        return;
      }
      case 'cancel':
        // To the worker of that index, and during a restart to both of them (but not back to the sender).
        for (const target of [this.workers.get(msg.worker), this.retiring.get(msg.worker)]) {
          if (target !== undefined && target !== worker) this.send(target, { t: 'cancel', pid: msg.pid, secret: msg.secret });
        }
        return;
      case 'handover':
        this.passOn(from, worker, msg.client, handle);
        return;
      case 'gather':
        this.ask(worker, (id) => ({ t: 'render', id, arg: msg.arg }), (p) => ({ t: 'gathered', id: msg.id, parts: p.parts }));
        return;
      case 'scrape':
        this.ask(worker, (id) => ({ t: 'metrics', id, openMetrics: msg.openMetrics }), (p) => ({ t: 'gathered', id: msg.id, parts: p.parts }));
        return;
      case 'broadcast':
        this.ask(worker, (id) => ({ t: 'run', id, query: msg.query }), (p) => ({ t: 'ran', id: msg.id, errors: p.errors }), null);
        return;
      case 'probed':
      case 'probe-failed':
        // Also to the old workers of a restart: they still serve clients until those move.
        for (const w of this.everyWorker()) if (w !== worker) this.send(w, msg);
        return;
      case 'probe-ask': {
        const prober = this.workers.get(PROBING_WORKER);
        if (prober !== undefined) this.send(prober, msg);
        return;
      }
      case 'wrote':
        // Every other worker, the old ones of a restart and the sibling of the same index included:
        // a read of the scope may land on any of them.
        this.ask(worker, (id) => ({ t: 'note', id, database: msg.database, keys: msg.keys }), (p) => ({ t: 'published', id: msg.id, late: p.errors }), NOTE_WAIT_MS, true);
        return;
      case 'shutdown':
        log.info('SHUTDOWN on the console: stopping every worker');
        this.signal('SIGTERM');
        return;
      case 'rendered':
      case 'done':
      case 'noted': {
        const p = this.pending.get(msg.id);
        if (p === undefined || !p.waiting.delete(worker)) return;
        if (msg.t === 'rendered') p.parts.push({ worker: from, frames: msg.frames });
        else if (msg.t === 'done' && msg.error !== null) p.errors.push(`worker ${from}: ${msg.error}`);
        if (p.waiting.size === 0) this.settle(msg.id);
        return;
      }
    }
  }

  /**
   * Sends a request to every worker of another index (with `all`, to every worker but `origin`,
   * the old ones of a restart included), and their answers back to `origin`: all of them, or what
   * came within `limitMs` (null: no limit), the others named in the errors.
   */
  private ask(origin: Worker, request: (id: number) => ToWorker, reply: (p: Pending) => ToWorker, limitMs: number | null = ANSWER_WAIT_MS, all = false): void {
    const from = workerIndex.get(origin);
    const id = this.nextId++;
    const timer = limitMs === null ? undefined : setTimeout(() => {
      const p = this.pending.get(id);
      if (p === undefined) return;
      for (const w of p.waiting) p.errors.push(`worker ${workerIndex.get(w)}: no answer within ${limitMs} ms`);
      this.settle(id);
    }, limitMs);
    const p: Pending = {
      waiting: new Set(),
      parts: [],
      errors: [],
      finish: () => {
        clearTimeout(timer);
        if (!origin.isDead()) this.send(origin, reply(p));
      },
    };
    this.pending.set(id, p);
    for (const worker of all ? this.everyWorker() : this.workers.values()) {
      if (worker === origin || (!all && workerIndex.get(worker) === from)) continue;
      p.waiting.add(worker);
      this.send(worker, request(id));
    }
    if (p.waiting.size === 0) this.settle(id);
  }

  /** The live workers and, during a restart, the old ones still serving clients. */
  private everyWorker(): Worker[] {
    return [...this.workers.values(), ...this.retiring.values()];
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

/** A client's socket handle as node's IPC delivers it (a libuv TCP or pipe handle). */
interface IpcHandle {
  close(): void;
}
