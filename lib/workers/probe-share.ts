// Owns one health and lag probe per host for the whole pgmux: worker 0 probes (a replacement
// worker 0 takes over) and its every answer and failure goes through the main process to the
// other workers' backends, which ask it for a probe where they would have probed themselves
// (lib/failover/probe-relay.ts, ProbeRelay). Each worker still feeds its own breakers from its own
// dials, and reacts to its own failures at once (it asks for a probe now).
//
// A probe's send time is a write fence's other half (lib/routing/writes.ts: a commit's position is
// the first primary position polled after it), so it must mean the same instant in every worker:
// it travels on the host's monotonic clock (process.hrtime, CLOCK_MONOTONIC on Linux, shared by
// all processes), converted with each process's performance.now() origin, rounded to the safe
// side (the probe looks sent earlier, never later).

import type { Backend } from '../failover/backend';
import type { ProbeRelay } from '../failover/probe-relay';
import { addressKey, type Backends } from '../failover/backends';
import type { FailureKind } from '../failover/breaker';
import type { MonitorRow } from '../routing/monitor';
import type { ToMain, ToWorker } from './messages';

/** The worker that probes for all. */
export const PROBING_WORKER = 0;

/** performance.now() + origin = the host's monotonic clock in ms; low and high bounds of origin. */
function originBounds(): { low: number; high: number } {
  const before = process.hrtime.bigint();
  const now = performance.now();
  const after = process.hrtime.bigint();
  // Microseconds first: nanoseconds since boot pass 2^53 after about 104 days.
  return { low: Number(before / 1000n) / 1000 - now, high: Number(after / 1000n) / 1000 - now };
}

export class ProbeShare implements ProbeRelay {
  readonly probing: boolean;
  private readonly origin = originBounds();

  constructor(
    index: number,
    private readonly backends: Backends,
    private readonly send: (msg: ToMain) => boolean,
  ) {
    this.probing = index === PROBING_WORKER;
  }

  ask(backend: Backend, urgent: boolean): void {
    this.send({ t: 'probe-ask', host: addressKey(backend.address), urgent });
  }

  answered(backend: Backend, row: MonitorRow, sentAt: number, rttMs: number, params: ReadonlyMap<string, string> | null): void {
    // Earliest this instant can be on the shared clock.
    const shared = params === null ? {} : { params: [...params] };
    this.send({ t: 'probed', host: addressKey(backend.address), row: [...row], sentAt: sentAt + this.origin.low, rttMs, ...shared });
  }

  failed(backend: Backend, reason: string, kind: FailureKind): void {
    this.send({ t: 'probe-failed', host: addressKey(backend.address), reason, kind });
  }

  /** A message for this module: true when handled. */
  message(msg: ToWorker): boolean {
    switch (msg.t) {
      case 'probed':
        // Earliest this instant can be on this process's clock.
        this.backends.find(msg.host)?.heard(msg.row, msg.sentAt - this.origin.high, msg.rttMs, msg.params === undefined ? null : new Map(msg.params));
        return true;
      case 'probe-failed':
        this.backends.find(msg.host)?.heardFailure(msg.reason, msg.kind);
        return true;
      case 'probe-ask':
        if (this.probing) this.backends.find(msg.host)?.probeForOther(msg.urgent);
        return true;
      default:
        return false;
    }
  }
}
