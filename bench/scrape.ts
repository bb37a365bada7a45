// Owns scraping a pgmux's /metrics from the benchmarks: every second during a run (as a
// Prometheus server would), and what one scrape costs the pgmux process in CPU.

import { cpuTimes } from './procstat';

/**
 * GET /metrics every `everyMs` (a second, as Prometheus is usually set up) until stopped; returns
 * how many scrapes were answered and their size. stop() ends the wait for the next one at once,
 * so the round's measurements, taken right after pgbench, do not include an idle second in which
 * only other sessions run.
 */
export function scraper(http: number, everyMs = 1000): { stop: () => Promise<{ scrapes: number; bytes: number }> } {
  let scrapes = 0;
  let bytes = 0;
  let running = true;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${http}/metrics`);
      bytes = (await res.text()).length;
      if (res.status === 200) scrapes++;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.max(0, everyMs - (Date.now() - started)));
      });
    }
  })();
  return {
    stop: async () => {
      running = false;
      wake();
      await loop;
      return { scrapes, bytes };
    },
  };
}

/**
 * CPU of the pgmux `pid` per GET /metrics: `n` scrapes back to back while nothing else runs
 * through it, less its CPU over as long a pause with no scrape (timers, the janitor).
 */
export async function costOfScrapes(pid: number, http: number, n = 200): Promise<{ msPerScrape: number; bytes: number; n: number }> {
  let bytes = 0;
  for (let i = 0; i < 10; i++) bytes = (await (await fetch(`http://127.0.0.1:${http}/metrics`)).text()).length;
  const cpu = (): number => {
    const t = cpuTimes(pid);
    return t.user + t.sys;
  };
  const c0 = cpu();
  const t0 = Date.now();
  for (let i = 0; i < n; i++) await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  const wall = Date.now() - t0;
  const c1 = cpu();
  await new Promise((r) => setTimeout(r, wall));
  const idle = cpu() - c1;
  return { msPerScrape: ((c1 - c0 - idle) * 1000) / n, bytes, n };
}
