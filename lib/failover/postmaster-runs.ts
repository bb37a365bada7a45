// Owns which run of a host's postmaster pgmux's pooled connections belong to, known by
// pg_postmaster_start_time(): it changes when the server restarts (even in place, faster than
// any probe could notice the gap) and never when an operator terminates a session. A connection
// that ended with FATAL 57P01 went with its host when the host's start time is no longer its
// run's (lib/failover/went-away.ts).
//
// A run's first connection reads the start time itself (lib/server/postmaster-start), ahead of
// its first request: exact, and no probe connection is needed. The connections that log in while the
// run lasts are on the same postmaster, since a restart ends every connection at once. When pgmux
// holds no connection to the host, or the server ended one (a restart, or a terminated session:
// from inside they look alike), nothing says the next login reaches the same postmaster: it
// begins a new run, which learns afresh.

/** What the probe and a run's first connection select: the same text for the same postmaster. */
export const POSTMASTER_START_SQL = 'extract(epoch FROM pg_catalog.pg_postmaster_start_time())';

/** One run of a host's postmaster, as the pooled connections logged in during it know it. */
export class PostmasterRun {
  /** POSTMASTER_START_SQL's answer; null until learned. */
  startTime: string | null = null;
  /** Its pooled connections that are still open. */
  open = 0;
  /** One of its connections is reading the start time. */
  private learning = false;

  constructor(private readonly runs: PostmasterRuns) {}

  /** Whether a connection just logged in should read the start time (then it must call learned()). */
  claimLearning(): boolean {
    if (this.startTime !== null || this.learning || this.runs.unreadable) return false;
    this.learning = true;
    return true;
  }

  /**
   * The start time its connection read; null: the read failed, and the next login tries again,
   * unless `refused` (the server answered with an error, e.g. EXECUTE revoked from PUBLIC): then
   * no run of this host asks again, and only the other signals tell a restart (wentAway).
   */
  learned(startTime: string | null, refused = false): void {
    this.learning = false;
    if (this.startTime === null) this.startTime = startTime;
    if (refused) this.runs.unreadable = true;
  }
}

export class PostmasterRuns {
  /** The run new logins join; null: the next login begins one. */
  private current: PostmasterRun | null = null;
  /** The host refused the start-time query: its runs do not learn it. */
  unreadable = false;

  /** A pooled connection logged in: the run it belongs to. */
  join(): PostmasterRun {
    let run = this.current;
    if (run === null) {
      run = new PostmasterRun(this);
      this.current = run;
    }
    run.open++;
    return run;
  }

  /** A pooled connection of `run` closed; `byServer`: the server ended it (maybe with a restart). */
  leave(run: PostmasterRun, byServer: boolean): void {
    run.open--;
    if (run === this.current && (byServer || run.open === 0)) this.current = null;
  }

  /** A probe answered: the host's postmaster started at `startTime`. */
  probed(startTime: string | null): void {
    const run = this.current;
    // Restarted under connections whose end pgmux has not read yet: later logins begin a new run.
    if (run !== null && run.startTime !== null && startTime !== null && run.startTime !== startTime) this.current = null;
  }
}
