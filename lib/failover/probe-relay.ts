// Owns a backend's side of the shared probe (workers > 1, lib/workers/probe-share): one worker
// probes every host for all, and its answers and failures reach the other workers' backends. A
// hearing backend asks the probing worker for a probe where it would have probed itself, and
// probes on its own while the shared probe is silent for too long, until it speaks again.

import type { MonitorRow } from '../routing/monitor';
import type { Backend } from './backend';
import type { FailureKind } from './breaker';

/**
 * With workers > 1, one worker probes every host for all (lib/workers/probe-share): its answers
 * and failures reach the other workers' backends (heard, heardFailure), which ask it for a probe
 * where they would have probed themselves.
 */
export interface ProbeRelay {
  /** This process probes for every worker; false: it hears another worker's probes. */
  readonly probing: boolean;
  /** (hearing) `backend` should be probed: at once (`urgent`), or at least once more. */
  ask(backend: Backend, urgent: boolean): void;
  /** (probing) A probe of `backend`, sent at `sentAt` (this process's performance.now()), answered `row`. */
  answered(backend: Backend, row: MonitorRow, sentAt: number, rttMs: number, params: ReadonlyMap<string, string> | null): void;
  /** (probing) The probe connection failed: could not connect or was lost (network), or its login was refused (auth, full). */
  failed(backend: Backend, reason: string, kind: FailureKind): void;
}

/** Where the hearing side reads the backend's timing. */
export interface HearingTimes {
  readonly pollIntervalMs: number;
  readonly probeTimeoutMs: number;
}

export class ProbeHearing {
  /** Null: this process probes its hosts itself. */
  relay: ProbeRelay | null = null;
  /** Probing on its own, as the shared probe went silent while this worker needed it. */
  ownProbe = false;
  /** When this worker began needing the host (-1: it does not), last asked, last heard. */
  private neededSince = -1;
  private askedAt = -1;
  private heardAt = -1;
  /** An urgent ask is out and nothing was heard since (asks are coalesced). */
  private urgentAsked = false;

  constructor(private readonly backend: Backend) {}

  /** Another worker's probe serves this one, unless it went silent. */
  get hearing(): boolean {
    return this.relay !== null && !this.relay.probing && !this.ownProbe;
  }

  /** This process probes for every worker: its probes' outcomes go to the others. */
  get sharing(): ProbeRelay | null {
    return this.relay !== null && this.relay.probing ? this.relay : null;
  }

  /** The host is not needed any more. */
  unneeded(): void {
    this.neededSince = -1;
  }

  /**
   * Hearing, and the host is needed: asks the probing worker to keep it probed (it may not need
   * it itself). True while that serves; false when it has been silent too long: probe here.
   */
  listen(now: number, t: HearingTimes, failing: boolean): boolean {
    const relay = this.relay as ProbeRelay;
    const interval = t.pollIntervalMs;
    if (this.neededSince < 0) {
      this.neededSince = now;
      // The first ask is urgent: a worker that just started hears the host at once.
      this.askedAt = now;
      relay.ask(this.backend, true);
      return true;
    }
    // Nothing heard for two intervals: the probing worker may not need the host itself; ask (again).
    if (now - Math.max(this.heardAt, this.askedAt) >= 2 * interval) {
      this.askedAt = now;
      relay.ask(this.backend, false);
    }
    // A failing host is retried with a growing delay: its failures show the prober is there.
    const silent = now - Math.max(this.heardAt, this.neededSince);
    if (failing || silent <= t.probeTimeoutMs + 2 * interval) return true;
    this.ownProbe = true;
    return false;
  }

  /** How long the shared probe has been silent (for the log when listen() gives up). */
  silentFor(now: number): number {
    return now - Math.max(this.heardAt, this.neededSince);
  }

  /**
   * A probe answer or failure came from the probing worker at `now`: true when this process
   * hears (then `wasOwn` says whether its own probe had taken over, and now stops).
   */
  heard(now: number): { hears: boolean; wasOwn: boolean } {
    if (this.relay === null || this.relay.probing) return { hears: false, wasOwn: false };
    this.heardAt = now;
    this.urgentAsked = false;
    const wasOwn = this.ownProbe;
    this.ownProbe = false;
    return { hears: true, wasOwn };
  }

  /** Hearing: ask for a probe now (coalesced until something is heard, or an ask may have been lost with a worker). */
  askNow(now: number, probeTimeoutMs: number): void {
    if (this.urgentAsked && now - this.askedAt < probeTimeoutMs) return;
    this.urgentAsked = true;
    this.askedAt = now;
    (this.relay as ProbeRelay).ask(this.backend, true);
  }
}
