// Owns every backend pgmux knows, one per address whatever the number of databases naming it,
// and the one timer that steps their probes (and the topologies' failover clocks).

import type { Settings } from '../config';
import { Backend, type BackendSettings } from './backend';
import type { ProbeRelay } from './probe-relay';
import type { BackendAddress } from './dialer';

/** How often backends and topologies are stepped: probes fall due on poll intervals within it. */
export const TICK_MS = 25;

/** Something stepped with the backends (a topology's failover_timeout). */
export interface Ticking {
  tick(now: number): void;
}

export function addressKey(a: BackendAddress): string {
  return `${a.host ?? a.unixSocketDir}\u0000${a.port}`;
}

export class Backends {
  private readonly byKey = new Map<string, Backend>();
  private readonly ticking = new Set<Ticking>();
  private timer: NodeJS.Timeout | null = null;
  private settings: BackendSettings;
  private shared: ProbeRelay | null = null;

  constructor(settings: Settings) {
    this.settings = backendSettings(settings);
  }

  /** The backend at `address`, made at first use. */
  get(address: BackendAddress): Backend {
    const key = addressKey(address);
    let b = this.byKey.get(key);
    if (b === undefined) {
      b = new Backend(address, () => this.settings);
      b.relay = this.shared;
      this.byKey.set(key, b);
    }
    return b;
  }

  /** The backend with this addressKey, if one was made. */
  find(key: string): Backend | undefined {
    return this.byKey.get(key);
  }

  /** Workers > 1: probes are shared between the workers from now on (lib/workers/probe-share). */
  set relay(relay: ProbeRelay | null) {
    this.shared = relay;
    for (const b of this.byKey.values()) b.relay = relay;
  }

  all(): IterableIterator<Backend> {
    return this.byKey.values();
  }

  /** Steps `t` at every tick until the returned function is called. */
  onTick(t: Ticking): () => void {
    this.ticking.add(t);
    return () => this.ticking.delete(t);
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.tick();
  }

  /** RELOAD: new poll interval and timeouts; backends no database watches any more are dropped. */
  reload(settings: Settings): void {
    this.settings = backendSettings(settings);
    for (const [key, b] of this.byKey) {
      if (b.watched) continue;
      b.stop();
      this.byKey.delete(key);
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const b of this.byKey.values()) b.stop();
  }

  tick(): void {
    const now = performance.now();
    for (const b of this.byKey.values()) b.step(now);
    for (const t of this.ticking) t.tick(now);
  }
}

function backendSettings(s: Settings): BackendSettings {
  return {
    pollIntervalMs: Math.max(10, s.replica_lag_poll_interval * 1000),
    connectTimeoutMs: Math.max(s.server_connect_timeout, 1) * 1000,
    loginRetryMs: s.server_login_retry * 1000,
  };
}
