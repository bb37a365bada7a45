// Owns which run of a host's postmaster pgmux's pooled connections belong to, known by
// pg_postmaster_start_time(): it changes when the server restarts (even in place, faster than
// any probe could notice the gap) and never when an operator terminates a session. A connection
// that ended with FATAL 57P01 went with its host when the host's start time is no longer its
// run's (lib/failover/backend.ts wentAway).
//
// A run's start time is learned from a probe sent after the run began, while the run is still
// the current one: a restart ends every connection at once, so the connections of a run that
// never lost one to the server are all on the postmaster that answered. When pgmux held no
// connection to the host, or the server ended one (a restart, or a terminated session: from
// inside they look alike), nothing says the next login reaches the same postmaster: it begins a
// new run, learned afresh.

/** One run of a host's postmaster, as the pooled connections logged in during it know it. */
export class PostmasterRun {
  /** extract(epoch FROM pg_postmaster_start_time()) as the probe read it; null until learned. */
  startTime: string | null = null;
  /** Its pooled connections that are still open. */
  open = 0;

  constructor(
    /** When its first connection logged in (performance.now() ms). */
    readonly begunAt: number,
  ) {}
}

export class PostmasterRuns {
  /** The run new logins join; null: the next login begins one. */
  private current: PostmasterRun | null = null;

  /** A pooled connection logged in at `now`: the run it belongs to. */
  join(now: number): PostmasterRun {
    let run = this.current;
    if (run === null) {
      run = new PostmasterRun(now);
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

  /** Whether connections are open whose run's start time is not known yet. */
  get unlearned(): boolean {
    return this.current !== null && this.current.startTime === null;
  }

  /** A probe sent at `sentAt` answered: the host's postmaster started at `startTime`. */
  probed(startTime: string | null, sentAt: number): void {
    const run = this.current;
    if (run === null || startTime === null || sentAt < run.begunAt) return;
    if (run.startTime === null) run.startTime = startTime;
    // Restarted under connections whose end pgmux has not read yet: later logins begin a new run.
    else if (run.startTime !== startTime) this.current = null;
  }
}
