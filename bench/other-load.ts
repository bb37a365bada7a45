// Owns measuring how busy the shared machine was with other people's processes during a run:
// all CPUs' busy time minus ours (the poolers, PostgreSQL's processes, this process and the
// pgbench it ran), as a fraction of the machine. Rounds taken under heavy foreign load are
// redone or reported with it.

import { availableParallelism } from 'node:os';
import { processTree } from '../spec/support/procs';
import { cpuOf, machineBusySeconds, reapedChildrenSeconds, selfAndChildrenSeconds } from './procstat';

/**
 * Returns a function that, called after the run, says what fraction of all CPUs was busy with
 * processes that are not ours since this call. `postmaster`: PostgreSQL's postmaster, whose
 * backends (living, or exited and reaped) are ours.
 */
export function otherLoadMeter(poolerPids: readonly number[], postmaster: number): () => number {
  // Backends that exited (every one of a direct pgbench run) count through the postmaster's cutime.
  const ours = (): number => cpuOf([...poolerPids, ...processTree(postmaster)]) + reapedChildrenSeconds(postmaster) + selfAndChildrenSeconds();
  const t0 = Date.now();
  const busy0 = machineBusySeconds();
  const ours0 = ours();
  return () => {
    const wall = (Date.now() - t0) / 1000;
    const foreign = machineBusySeconds() - busy0 - (ours() - ours0);
    return Math.max(0, foreign / (wall * availableParallelism()));
  };
}
