// Owns pgmux's two clocks, a leaf every layer may import. `clock` is the one timeouts are
// measured with: read when a socket event or a janitor tick starts, not at every place that
// stamps a time, so that everything one event does shares one reading. Stamps are then at most one event's work old, never a janitor tick (a timeout
// measured from a stale stamp would fire up to a tick early).

export const clock = {
  /** Milliseconds since the epoch, as of the current event or janitor tick. */
  now: Date.now(),
  tick(): number {
    this.now = Date.now();
    return this.now;
  },
};

/** Microseconds on the monotonic clock (performance.now() is fractional milliseconds): durations (SHOW STATS, histograms). */
export function nowUs(): number {
  return performance.now() * 1000;
}
