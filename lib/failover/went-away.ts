// Owns a host's answers to "is it still up?" and "did this connection go with it?": callers wait
// for the first probe sent after they asked (an answer to a probe already out may predate what
// they saw), and the probe's own lost connections are remembered, since a shutdown ends it in the
// same moment as the pooled ones while an operator's pg_terminate_backend of client sessions does
// not. The backend (lib/failover/backend.ts) feeds it its probes' outcomes.

import type { PostmasterRun } from './postmaster-runs';

/** A connection lost with FATAL 57P01 this close to the probe's own loss went with its host (wentAway). */
export const PROBE_LOST_MS = 50;

/** Someone waiting for the first probe sent after `askedAt` (performance.now() ms). */
interface Verdict {
  readonly askedAt: number;
  readonly verdict: (alive: boolean) => void;
}

export class AliveVerdicts {
  private verdicts: Verdict[] = [];
  /** When the probe last lost its connection or could not make one (-Infinity: never). */
  private probeLostAt = -Infinity;
  /** The last probe failure was a refused login: it says nothing about whether the host is up. */
  private downForAuth = false;

  /** Whether someone waits for a probe's verdict (the host must be probed). */
  get waiting(): boolean {
    return this.verdicts.length > 0;
  }

  /** What a caller hears at once when the probe is not connected and already failing. */
  get lastVerdict(): boolean {
    return this.downForAuth;
  }

  /** `verdict` waits for the first probe sent after `now`. */
  ask(now: number, verdict: (alive: boolean) => void): void {
    this.verdicts.push({ askedAt: now, verdict });
  }

  /**
   * The verdict on a connection of `run` that ended with FATAL 57P01, asked at `asked`, once the
   * probe said the host is `alive` and answered with `postmasterStart`: it went with its host
   * when the host is down, its postmaster is another than the run's, or the probe's own
   * connection was lost from PROBE_LOST_MS before the ask on.
   */
  wentAway(run: PostmasterRun | null, asked: number, alive: boolean, postmasterStart: string | null): boolean {
    const was = run?.startTime ?? null;
    const restarted = alive && was !== null && postmasterStart !== null && was !== postmasterStart;
    return !alive || restarted || this.probeLostAt >= asked - PROBE_LOST_MS;
  }

  /** The probe's connection failed at `now`; `auth`: its login was refused (the host may be up). */
  probeLost(now: number, auth: boolean): void {
    this.probeLostAt = now;
    this.downForAuth = auth;
  }

  /** Verdicts asked at or before `sentAt` (a failure: all) get `alive`. */
  settle(alive: boolean, sentAt = Infinity): void {
    if (this.verdicts.length === 0) return;
    const due: Verdict[] = [];
    const later: Verdict[] = [];
    for (const v of this.verdicts) (v.askedAt <= sentAt ? due : later).push(v);
    this.verdicts = later;
    for (const v of due) v.verdict(alive);
  }
}
