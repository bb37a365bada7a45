// Owns reading the `workers` setting: a number of processes, or auto for one per CPU.

import * as os from 'node:os';

/** More processes than this is a typo, not a host. */
const MAX_WORKERS = 64;

/** How many processes `workers` asks for; throws with what to write instead. */
export function workerCount(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'auto') return Math.min(MAX_WORKERS, os.availableParallelism());
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new Error(`workers = "${value}" is not valid: use a number of processes from 1 to ${MAX_WORKERS}, or auto for one per CPU`);
  }
  return n;
}
