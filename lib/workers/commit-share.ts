// Owns read_your_writes across workers (user, database and key scopes): a worker whose client
// commits a write in such a scope sends a note (database, scope keys) through the main process to
// every other worker, each records it as a write fence of its own (ReplicaSet.noteShared) and
// answers, and only then does the client get the commit's ReadyForQuery (lib/client holds it). A
// read that starts after the client saw its commit, on whichever worker, therefore finds the
// write recorded there and waits for a replica that has replayed it, as on the writer's worker.
//
// Why a note before the answer, not a question at read time: a read on another worker cannot
// know whether a note is still on its way (the main process reads each worker's channel in its
// own order), so asking at read time is sound only if every read waits for a round trip through
// every worker; the note costs one such round trip per commit in a shared scope and nothing per
// read. Commits in the connection scope, reads, and workers = 1 pay nothing.
//
// A worker that does not answer within NOTE_WAIT_MS (stopped, overloaded) does not hold commits
// longer: the main process answers without it, the writer logs which worker was late, and that
// worker records the note when it gets to it (reads it routes before then may be stale). A
// worker that dies is not waited for; its replacement starts with every shared scope waiting for
// the primary's position at its start (lib/routing/writes.ts, the floor).

import type { CommitShare } from '../routing/router';
import type { Registry } from '../pool/registry';
import { log } from '../log';
import type { ToMain, ToWorker } from './messages';

/** How long a commit in a shared scope waits for the other workers to record it. */
export const NOTE_WAIT_MS = 1000;
/** A late worker is logged at most this often. */
const LATE_LOG_EVERY_MS = 10_000;

export class CommitNotes implements CommitShare {
  private nextId = 1;
  /** Commits whose ReadyForQuery waits for 'published', by note id. */
  private readonly waiting = new Map<number, () => void>();
  private lateLoggedAt = -Infinity;

  constructor(
    private readonly registry: Registry,
    private readonly send: (msg: ToMain) => boolean,
  ) {}

  publish(database: string, keys: readonly string[], done: () => void): void {
    const id = this.nextId++;
    // No main process to carry it (going away): nothing to wait for.
    if (!this.send({ t: 'wrote', id, database, keys: [...keys] })) {
      done();
      return;
    }
    this.waiting.set(id, done);
  }

  /** A message for this module: true when handled. */
  message(msg: ToWorker): boolean {
    switch (msg.t) {
      case 'note':
        this.registry.replicaSets.get(msg.database)?.noteShared(msg.keys);
        // No replica set for it yet: the one made later waits for the primary's position at its start.
        this.send({ t: 'noted', id: msg.id });
        return true;
      case 'published': {
        const done = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (msg.late.length > 0) this.logLate(msg.late);
        done?.();
        return true;
      }
      default:
        return false;
    }
  }

  /** The main process went away: nothing will answer. */
  releaseAll(): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of waiting) done();
  }

  private logLate(late: string[]): void {
    const now = performance.now();
    if (now - this.lateLoggedAt < LATE_LOG_EVERY_MS) return;
    this.lateLoggedAt = now;
    log.warn(`read_your_writes: a commit was answered without ${late.join('; ')}: reads there may not see it until it records it`);
  }
}
