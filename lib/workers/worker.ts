// Owns a worker process's side of the cluster: its index in the cancel keys it issues, cancels
// for other workers' keys sent through the main process, the console's SHOW gathered from every
// worker and its commands run on every worker, the signals the main process passes on, the
// notes of commits in shared read_your_writes scopes (./commit-share), the hosts' probes shared
// from worker 0 (./probe-share), and its part in a restart (./handover: handing its clients
// over, or adopting its predecessor's).

import { keyWorker } from '../auth/cancel-key';
import type { Registry } from '../pool/registry';
import type { AdminConsole, ConsoleSpread } from '../admin/console';
import type { Reply } from '../admin/commands';
import { parseCommand } from '../admin/parse';
import { notOnEveryWorker } from '../admin/errors';
import type { SendHandle } from 'node:child_process';
import { log } from '../log';
import { mergeAnswers, mergeOf } from './aggregate';
import { mergeExpositions } from './metrics-merge';
import { CommitNotes } from './commit-share';
import { ProbeShare } from './probe-share';
import type { MetricsSpread } from '../observability';
import { WORKER_COUNT_ENV, WORKER_INDEX_ENV, type ToMain, type ToWorker } from './messages';
import { adoptClient, HandOver, type ClientHandle } from './handover';
import type { CarriedSession } from '../client/carried-session';

/** What a worker steers (lib/pgmux.ts). */
export interface WorkerHost {
  readonly registry: Registry;
  readonly console: AdminConsole;
  /** SIGHUP: null, or why the config stays. */
  reload(): string | null;
  shutdown(mode: 'safe' | 'immediate'): Promise<void>;
  /** A restart: no new connections here (the new worker of this index takes them). */
  stopAccepting(): void;
  /** A restart: every client went to the new worker; close what is left and exit. */
  retire(): Promise<void>;
  /** This worker's own /metrics exposition. */
  metricsText(openMetrics: boolean): string;
}

/** Console commands that act on every worker when run on one (SHOW and SET are handled apart). */
const EVERYWHERE = new Set(['pause', 'resume', 'suspend', 'disable', 'enable', 'reconnect', 'kill', 'reload', 'wait_close']);

/** This process's place among the workers, from the environment the main process forked it with. */
export function workerPlace(): { index: number; count: number } | null {
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const count = Number(process.env[WORKER_COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(count) || count < 2) return null;
  return { index, count };
}

export class WorkerLink implements ConsoleSpread, MetricsSpread {
  private nextId = 1;
  private readonly waiting = new Map<number, (msg: ToWorker) => void>();
  /** read_your_writes across workers (user, database, key scopes). */
  readonly commits: CommitNotes;
  /** One probe per host for every worker. */
  readonly probes: ProbeShare;
  /** A restart made this worker the old one: its clients go to the new worker; null otherwise. */
  private handOver: HandOver | null = null;

  constructor(
    readonly index: number,
    private readonly host: WorkerHost,
  ) {
    this.commits = new CommitNotes(host.registry, (msg) => this.send(msg));
    this.probes = new ProbeShare(index, host.registry.hosts.backends, (msg) => this.send(msg));
  }

  /**
   * Takes over the console and shared commits, and starts listening to the main process. Called
   * before the first await of the worker's start: a message sent before a listener exists is lost.
   */
  attach(): void {
    this.host.console.spread = this;
    this.host.registry.commitShare = this.commits;
    this.host.registry.hosts.backends.relay = this.probes;
    process.on('message', (msg: ToWorker, handle: object | undefined) => this.message(msg, handle));
    process.on('disconnect', () => this.commits.releaseAll());
  }

  /** Tells the main process this worker serves. */
  ready(): void {
    this.send({ t: 'ready' });
  }

  /** SHUTDOWN on the console: the main process stops every worker. */
  shutdownAll(): void {
    this.send({ t: 'shutdown' });
  }

  /**
   * A key another worker issued goes to it through the main process (true); false for this
   * worker's. During a restart two workers have this index, and the client may be on the other
   * one: the main process passes this worker's keys to a namesake if there is one.
   */
  forwardCancel(pid: number, secret: number): boolean {
    const worker = keyWorker(pid);
    if (worker === this.index) {
      this.send({ t: 'cancel', worker, pid, secret });
      return false;
    }
    log.debug(`cancel request for worker ${worker}'s client: passed on`);
    this.send({ t: 'cancel', worker, pid, secret });
    return true;
  }

  // ---- ConsoleSpread ----

  async widen(query: string, local: Reply): Promise<Reply> {
    if (local === null || !Array.isArray(local)) return local;
    const parsed = parseCommand(query);
    if (parsed.kind === 'set') return this.everywhere(query, local);
    if (parsed.kind !== 'command') return local;
    const verb = parsed.verb.toLowerCase();
    if (verb === 'show' || verb === 'select') {
      const merge = mergeOf(parsed.arg);
      if (merge === undefined) return local;
      const answer = await this.ask({ t: 'gather', id: 0, arg: parsed.arg });
      if (answer.t !== 'gathered') return local;
      const parts: { worker: number; frames: readonly Buffer[] }[] = answer.parts.map((p) => ({ worker: p.worker, frames: p.frames.map((f) => Buffer.from(f, 'base64')) }));
      parts.push({ worker: this.index, frames: local });
      return mergeAnswers(merge, parts, local);
    }
    return EVERYWHERE.has(verb) ? this.everywhere(query, local) : local;
  }

  // ---- MetricsSpread ----

  /** GET /metrics (worker 0 serves HTTP): this worker's exposition merged with every other one's. */
  async widenMetrics(openMetrics: boolean, local: string): Promise<string> {
    const answer = await this.ask({ t: 'scrape', id: 0, openMetrics });
    if (answer.t !== 'gathered') return local;
    return mergeExpositions([local, ...answer.parts.map((p) => p.frames.join(''))]);
  }

  /** Runs `query` on every other worker; the local reply when all ran it, else what failed. */
  private async everywhere(query: string, local: Buffer[]): Promise<Reply> {
    const answer = await this.ask({ t: 'broadcast', id: 0, query });
    if (answer.t !== 'ran' || answer.errors.length === 0) return local;
    return notOnEveryWorker(answer.errors.join('; '));
  }

  private ask(msg: Extract<ToMain, { id: number }>): Promise<ToWorker> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ ...msg, id });
    });
  }

  private message(msg: ToWorker, handle: object | undefined): void {
    if (this.commits.message(msg) || this.probes.message(msg)) return;
    switch (msg.t) {
      case 'retire':
        this.retire();
        return;
      case 'adopt':
        if (handle === undefined) log.warn('a handed-over client arrived without its connection; ignored');
        else adoptClient(this.host.registry, msg.client, handle);
        return;
      case 'cancel':
        this.host.registry.cancelLocal(msg.pid, msg.secret);
        return;
      case 'render': {
        const frames = this.host.console.renderForPeer(msg.arg).map((b) => b.toString('base64'));
        this.send({ t: 'rendered', id: msg.id, frames });
        return;
      }
      case 'metrics':
        this.send({ t: 'rendered', id: msg.id, frames: [this.host.metricsText(msg.openMetrics)] });
        return;
      case 'run':
        this.host.console.runForPeer(msg.query).then(
          (error) => this.send({ t: 'done', id: msg.id, error }),
          (err: Error) => this.send({ t: 'done', id: msg.id, error: err.message }),
        );
        return;
      case 'signal':
        if (msg.signal === 'SIGHUP') {
          log.info('got SIGHUP, re-reading config');
          this.host.reload();
        } else void this.host.shutdown(msg.signal === 'SIGINT' ? 'safe' : 'immediate');
        return;
      case 'gathered':
      case 'ran': {
        const resolve = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        resolve?.(msg);
        return;
      }
    }
  }

  /** The new worker of this index serves: stop accepting, and hand every client over to it. */
  private retire(): void {
    if (this.handOver !== null) return;
    this.host.stopAccepting();
    this.handOver = new HandOver(this.index, this.host.registry, this.sendClient, () => void this.host.retire());
  }

  private readonly sendClient = (client: CarriedSession, handle: ClientHandle, done: (err: Error | null) => void): void => {
    if (!process.connected || process.send === undefined) {
      done(new Error('the main process is gone'));
      return;
    }
    const msg: ToMain = { t: 'handover', client };
    // A raw libuv handle: node sends it as it sends the ones cluster itself passes (its types list only sockets and servers).
    process.send(msg, handle as unknown as SendHandle, undefined, done);
  };

  /** False when there is no main process to send to. */
  private send(msg: ToMain): boolean {
    // The main process gone means this worker is about to exit too (node:cluster ends it).
    if (!process.connected || process.send === undefined) return false;
    process.send(msg);
    return true;
  }
}
