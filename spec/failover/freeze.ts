// Owns freezing a PostgreSQL node the way a hung host or a network partition looks from pgmux:
// SIGSTOP to its postmaster and every process it forked (so no backend answers and no new one is
// forked; the kernel still completes TCP handshakes into the listen backlog), and SIGCONT to each
// of them again, by PID. A spec calls thaw() in its afterAll whatever happened.

import { readFileSync } from 'node:fs';

export class Freezer {
  private readonly frozen = new Set<number>();

  /** SIGSTOP the postmaster `pid` and each of its children. */
  freeze(pid: number): void {
    for (const p of processTree(pid)) {
      process.kill(p, 'SIGSTOP');
      this.frozen.add(p);
    }
  }

  /** SIGCONT every process freeze() stopped. */
  thaw(): void {
    for (const p of this.frozen) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        // Already gone.
      }
    }
    this.frozen.clear();
  }
}

/** The postmaster and every process it forked (backends, walwriter, checkpointer, ...). */
function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return [pid, ...(children === '' ? [] : children.split(/\s+/).map(Number))];
}
