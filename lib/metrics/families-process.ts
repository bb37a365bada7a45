// Owns node's process metrics on /metrics, under the names prom-client's defaults use (so
// Node.js dashboards work): CPU, memory, heap, event loop lag, uptime, version. Only what node
// answers from memory, read once per scrape: prom-client's collectDefaultMetrics also reads
// /proc/self/fd and friends synchronously at each scrape, which with thousands of client
// sockets blocks the event loop (and cost 7 of the 12 ms a small pgmux's scrape took).
//
// The event loop delay is sampled by node itself (perf_hooks, a libuv timer every 20 ms) while
// metrics are on; its percentiles cover the time since the previous scrape.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { family, type Family } from './exposition';

const START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

/** What one scrape shows of the process: read once per scrape, and the event loop delay monitor. */
export class ProcessSampler {
  private monitor: IntervalHistogram | null = null;
  cpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  memory: NodeJS.MemoryUsage = process.memoryUsage();

  /** A scrape begins: CPU and memory are read once for all its families. */
  startScrape(): void {
    this.cpu = process.cpuUsage();
    this.memory = process.memoryUsage();
  }

  start(): void {
    if (this.monitor !== null) return;
    this.monitor = monitorEventLoopDelay({ resolution: 20 });
    this.monitor.enable();
  }

  stop(): void {
    this.monitor?.disable();
    this.monitor = null;
  }

  /** Seconds of delay at quantile `q` (0..100), or of the largest, since the last reset. */
  seconds(what: number | 'max'): number | null {
    const m = this.monitor;
    if (m === null) return null;
    // Scrapes closer together than one sample apart: no delay was seen.
    if (m.count === 0) return 0;
    return (what === 'max' ? m.max : m.percentile(what)) / 1e9;
  }

  reset(): void {
    this.monitor?.reset();
  }
}

export function processFamilies(p: ProcessSampler): Family[] {
  const one = (name: string, type: 'counter' | 'gauge', help: string, get: () => number | null): Family =>
    family(name, type, help, (s) => {
      const v = get();
      if (v !== null) s.push({ labels: {}, value: v });
    });
  const [major, minor, patch] = process.versions.node.split('.');
  return [
    one('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', () => p.cpu.user / 1e6),
    one('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', () => p.cpu.system / 1e6),
    one('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', () => (p.cpu.user + p.cpu.system) / 1e6),
    one('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', () => START_SECONDS),
    one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', () => p.memory.rss),
    one('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', () => p.memory.heapTotal),
    one('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', () => p.memory.heapUsed),
    one('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', () => p.memory.external),
    one('nodejs_eventloop_lag_p50_seconds', 'gauge', 'The 50th percentile of the recorded event loop delays since the last scrape.', () => p.seconds(50)),
    one('nodejs_eventloop_lag_p99_seconds', 'gauge', 'The 99th percentile of the recorded event loop delays since the last scrape.', () => p.seconds(99)),
    one('nodejs_eventloop_lag_max_seconds', 'gauge', 'The maximum recorded event loop delay since the last scrape.', () => p.seconds('max')),
    family('nodejs_version_info', 'gauge', 'Node.js version info.', (s) =>
      s.push({ labels: { version: process.version, major, minor, patch }, value: 1 }),
    ),
  ];
}
