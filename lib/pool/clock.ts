// Owns the coarse clock that timeouts are measured with: read once per janitor tick instead of
// once per message, since every timeout pgmux enforces is counted in seconds.

export const clock = {
  /** Milliseconds since the epoch, at most one janitor tick old. */
  now: Date.now(),
  tick(): number {
    this.now = Date.now();
    return this.now;
  },
};
