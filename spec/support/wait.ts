// Owns polling a condition with a deadline, for the specs' conditions that have no event to await.

/**
 * Re-evaluates `check` (backoff 5 ms .. 50 ms) until it returns something other than
 * undefined/false, and returns that. Throws after `timeoutMs` naming `what`. For conditions
 * with no event to await (a row in pg_stat_activity, a line reaching the server log).
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}
