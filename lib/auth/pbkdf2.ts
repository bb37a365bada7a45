// Owns PBKDF2 off the event loop: SCRAM's SaltedPassword computed on libuv's thread pool, a few at a time, first come first served.
//
// A client's cleartext password checked against a SCRAM secret costs PBKDF2 at the secret's
// iteration count on every attempt (as in PostgreSQL; a wrong attempt must not be cached).
// pbkdf2Sync would stall every other client's traffic for that long, so a burst of wrong
// passwords would stall the whole pooler. crypto.pbkdf2 runs it on a worker thread instead.
//
// At most PBKDF2_PARALLEL derivations run at once. libuv's pool (4 threads by default) also
// serves dns.lookup and fs, which new server connections need, and the event loop keeps a CPU
// of its own. The rest wait in FIFO order. A queued job whose requester is gone (a client that
// disconnected or timed out) is dropped before it starts, so abandoned logins cost nothing more.

import { pbkdf2 } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { SCRAM_KEY_LENGTH } from './scram-common';
import { saslprep } from './saslprep';

/** Derivations running at once: half of libuv's default pool at most, and one CPU left to the event loop. */
export const PBKDF2_PARALLEL = Math.max(1, Math.min(2, availableParallelism() - 1));

interface Job {
  readonly password: string;
  readonly salt: Buffer;
  readonly iterations: number;
  readonly wanted: () => boolean;
  readonly resolve: (salted: Buffer | null) => void;
  readonly reject: (err: Error) => void;
}

const ALWAYS = (): boolean => true;

/** Started slots kept at the front of the queue before it is copied down (amortised O(1)). */
const COMPACT_AT = 1024;

/** The FIFO of derivations and how many of them run; one per process, like the thread pool it feeds. */
export class Pbkdf2Queue {
  /** Jobs not started yet, oldest at `head` (an index, so taking one is O(1)); started slots are cleared. */
  private jobs: (Job | undefined)[] = [];
  private head = 0;
  /** Derivations on the thread pool now (at most `parallel`). */
  running = 0;
  /** Derivations started since the process began (dropped jobs are not counted); specs read it. */
  started = 0;

  constructor(private readonly parallel: number = PBKDF2_PARALLEL) {}

  /** Jobs waiting for a thread. */
  get queued(): number {
    return this.jobs.length - this.head;
  }

  /**
   * SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations), as
   * deriveScramKeys computes it. Resolves to null when `wanted()` is false by the time the job
   * would start; rejects only if PBKDF2 itself fails.
   */
  saltedPassword(password: string, salt: Buffer, iterations: number, wanted: () => boolean = ALWAYS): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ password: saslprep(password), salt, iterations, wanted, resolve, reject });
      this.startNext();
    });
  }

  private startNext(): void {
    while (this.running < this.parallel && this.head < this.jobs.length) {
      const job = this.jobs[this.head] as Job;
      this.jobs[this.head++] = undefined; // the password leaves with the job
      if (this.head === this.jobs.length || this.head >= COMPACT_AT) {
        this.jobs = this.jobs.slice(this.head);
        this.head = 0;
      }
      if (!job.wanted()) {
        job.resolve(null);
        continue;
      }
      this.running++;
      this.started++;
      try {
        pbkdf2(job.password, job.salt, job.iterations, SCRAM_KEY_LENGTH, 'sha256', (err, salted) => {
          this.running--;
          if (err !== null) job.reject(err);
          else job.resolve(salted);
          this.startNext();
        });
      } catch (err) {
        // Arguments Node refuses outright (e.g. an iteration count past its limit): this job only.
        this.running--;
        job.reject(err as Error);
      }
    }
  }
}

/** The process's queue: every asynchronous derivation goes through it. */
export const pbkdf2Queue = new Pbkdf2Queue();
