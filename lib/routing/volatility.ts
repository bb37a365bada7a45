// Owns one database's user-function volatility lookup for the classifier's `isVolatile`: which
// functions outside pg_catalog / information_schema have pg_proc.provolatile = 'v', fetched from
// the primary over a one-off monitor connection when the replica set starts and again at RELOAD,
// and answered from memory in between. Until the first answer every user function is unknown
// (the primary); a failed fetch is retried after RETRY_MS.

import { log } from '../log';
import type { Connect } from '../connect';
import { MonitorClient, type MonitorHandler, type MonitorLogin, type MonitorRow } from './monitor';

export const VOLATILITY_SQL =
  'SELECT n.nspname, p.proname, p.provolatile FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace ' +
  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')";

/** A fetch that failed (primary down, login refused) is tried again this much later. */
export const RETRY_MS = 10_000;

/**
 * Name → volatile, by bare name and by `schema.name`. Overloads share a name: one volatile
 * overload makes the name volatile, since the classifier does not resolve argument types.
 */
export function volatilityMap(rows: readonly MonitorRow[]): Map<string, boolean> {
  const map = new Map<string, boolean>();
  const add = (key: string, volatile: boolean): void => {
    map.set(key, (map.get(key) ?? false) || volatile);
  };
  for (const [schema, name, kind] of rows) {
    if (schema === null || name === null) continue;
    const volatile = kind !== 's' && kind !== 'i';
    add(name, volatile);
    add(`${schema}.${name}`, volatile);
  }
  return map;
}

export class VolatilityLookup {
  private map: ReadonlyMap<string, boolean> | null = null;
  private fetching: MonitorClient | null = null;
  /** A refresh was asked while a fetch ran: fetch again when it ends (the answer may predate a change). */
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Completed fetches, for specs and logs. */
  loads = 0;

  constructor(
    /** The current primary's dialer (it may change with a failover). */
    private readonly connect: () => Connect,
    private readonly login: () => MonitorLogin,
    /** server_connect_timeout plus a query's time, ms: a fetch taking longer is abandoned. */
    private readonly timeoutMs: number,
    /** Called after every successful load (the classifier's cache must forget old answers). */
    private readonly loaded: () => void,
    private readonly label: string,
  ) {}

  /** The classifier's isVolatile: undefined while unknown (not fetched yet, or no such function). */
  readonly isVolatile = (name: string, schema?: string): boolean | undefined => {
    const map = this.map;
    if (map === null) return undefined;
    return map.get(schema === undefined ? name : `${schema}.${name}`);
  };

  /** Fetches (again) from the primary; coalesces with a fetch in progress. */
  refresh(): void {
    if (this.stopped) return;
    if (this.fetching !== null) {
      this.again = true;
      return;
    }
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    let who: MonitorLogin;
    try {
      who = this.login();
    } catch (err) {
      this.failed(`no login: ${(err as Error).message}`);
      return;
    }
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    const handler: MonitorHandler = {
      monitorReady: (m) => m.query(VOLATILITY_SQL),
      monitorResult: (m, rows, error) => {
        done = true;
        if (error !== null) this.failed(error);
        else this.load(rows);
        m.close('volatility lookup done');
      },
      monitorClosed: (_m, reason) => {
        if (timer !== null) clearTimeout(timer);
        this.fetching = null;
        if (!done) this.failed(reason);
        else if (this.again) {
          this.again = false;
          this.refresh();
        }
      },
    };
    const m = new MonitorClient(this.connect(), who, handler);
    this.fetching = m;
    timer = setTimeout(() => m.close(`no answer in ${this.timeoutMs} ms`), this.timeoutMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this.fetching?.close('replica set stopped');
  }

  private load(rows: readonly MonitorRow[]): void {
    if (this.stopped) return;
    this.map = volatilityMap(rows);
    this.loads++;
    log.debug(`${this.label}: ${rows.length} user functions' volatility loaded`);
    this.loaded();
  }

  private failed(reason: string): void {
    if (this.stopped) return;
    this.again = false;
    log.warn(`${this.label}: function volatility lookup failed (${reason}); user functions go to the primary, retrying in ${RETRY_MS / 1000} s`);
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.refresh();
    }, RETRY_MS);
    this.retry.unref();
  }
}
