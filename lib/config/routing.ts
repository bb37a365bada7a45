// Owns the value syntax of pgmux's routing settings and [databases] keys: the replica list of
// `replicas=` and the size/time limit of `max_replica_lag`. Plain text in, plain data out; the
// router (lib/routing) only ever sees the parsed forms.

import { ConfigError } from './errors';

/** One entry of `replicas=host:port@weight`. */
export interface ReplicaAddress {
  /** A host name, an IP address (IPv6 without its brackets) or a Unix socket directory. */
  readonly host: string;
  readonly port: number;
  /** Share of reads relative to the other replicas of the database: 1 ... MAX_REPLICA_WEIGHT. */
  readonly weight: number;
}

/**
 * Replicas per database. The router keeps replica sets as 31-bit masks so a decision allocates
 * nothing; 31 streaming replicas behind one pooler is far beyond any real deployment.
 */
export const MAX_REPLICAS = 31;
export const MAX_REPLICA_WEIGHT = 1000;

const ENTRY = /^(?:\[([^\]]+)\]|([^:@[\]]+))(?::([^:@]*))?(?:@(.*))?$/;

/**
 * Parses `replicas=10.0.0.2:5432,10.0.0.3:5433@2,[fd00::3]:5432,replica4`: comma-separated
 * `host[:port][@weight]` entries. IPv6 addresses go in brackets; a missing port is the database
 * line's `port` (`defaultPort`), a missing weight is 1. Throws ConfigError at `source`.
 */
export function parseReplicaList(text: string, defaultPort: number, source: string): ReplicaAddress[] {
  const out: ReplicaAddress[] = [];
  const seen = new Set<string>();
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    if (item === '') throw new ConfigError(source, `replicas has an empty entry in "${text}"; write host:port[@weight] entries separated by commas`);
    const m = ENTRY.exec(item);
    if (m === null) {
      throw new ConfigError(source, `replicas entry "${item}" is not host:port[@weight]; put IPv6 addresses in brackets, as [fd00::2]:5432`);
    }
    const [, v6, name, portText, weightText] = m;
    const host = (v6 ?? name ?? '').trim();
    if (host === '') throw new ConfigError(source, `replicas entry "${item}" has no host`);
    const port = portText === undefined ? defaultPort : Number(portText);
    if (portText !== undefined && !(/^\d+$/.test(portText) && port >= 1 && port <= 65535)) {
      throw new ConfigError(source, `replicas entry "${item}": port must be an integer from 1 to 65535, not "${portText}"`);
    }
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (weightText !== undefined && !(/^\d+$/.test(weightText) && weight >= 1 && weight <= MAX_REPLICA_WEIGHT)) {
      throw new ConfigError(source, `replicas entry "${item}": weight must be an integer from 1 to ${MAX_REPLICA_WEIGHT}, not "${weightText}"`);
    }
    const key = `${host}:${port}`;
    if (seen.has(key)) throw new ConfigError(source, `replicas lists ${item.includes('[') ? `[${host}]` : host}:${port} twice`);
    seen.add(key);
    out.push({ host, port, weight });
  }
  if (out.length > MAX_REPLICAS) throw new ConfigError(source, `replicas lists ${out.length} servers; at most ${MAX_REPLICAS} per database`);
  return out;
}

/** One host of a database as the failover layer sees it: an address, its share of reads, its zone. */
export interface HostEntry {
  /** Undefined: a Unix socket in unix_socket_dir (a single-host line without host=). */
  readonly host: string | undefined;
  readonly port: number;
  readonly weight: number;
  /** `zones=`' entry for it; '' when none is given. */
  readonly zone: string;
}

/**
 * Splits `host=a,b,c` with `port=5432` (one for all) or `port=5432,5433,5434` (one each), libpq
 * style, into the candidate primaries of a database. Throws ConfigError at `source`.
 */
export function parseHostList(hostText: string | undefined, portText: string | undefined, source: string): { host: string | undefined; port: number }[] {
  const hosts = hostText === undefined ? [undefined] : hostText.split(',').map((h) => h.trim());
  const ports = (portText ?? '5432').split(',').map((p) => p.trim());
  if (hosts.some((h) => h === '')) throw new ConfigError(source, `host has an empty entry in "${hostText}"; write host names separated by commas`);
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new ConfigError(source, `port lists ${ports.length} ports for ${hosts.length} hosts; give one port for all hosts or one per host`);
  }
  const out = hosts.map((host, i) => {
    const text = ports.length === 1 ? ports[0] : ports[i];
    const port = Number(text);
    if (!(/^\d+$/.test(text) && port >= 1 && port <= 65535)) throw new ConfigError(source, `port must be an integer from 1 to 65535, not "${text}"`);
    return { host, port };
  });
  const seen = new Set<string>();
  for (const h of out) {
    const key = `${h.host ?? ''}:${h.port}`;
    if (seen.has(key)) throw new ConfigError(source, `host lists ${h.host ?? '(unix socket)'}:${h.port} twice`);
    seen.add(key);
  }
  if (out.length > MAX_REPLICAS) throw new ConfigError(source, `host lists ${out.length} servers; at most ${MAX_REPLICAS} per database`);
  return out;
}

/**
 * Every host of a database in order: the candidate primaries of host= (weight 1), then the
 * replicas= entries, each with its `zones=` entry. Roles are not taken from this list: the
 * failover layer asks each host (pg_is_in_recovery()).
 */
export function databaseHosts(db: { host: string | undefined; port: number; hosts?: readonly { host: string | undefined; port: number }[]; replicas?: readonly ReplicaAddress[]; zones?: readonly string[] }): HostEntry[] {
  const zone = (i: number): string => db.zones?.[i] ?? '';
  const candidates = db.hosts ?? [{ host: db.host, port: db.port }];
  const out: HostEntry[] = candidates.map((h, i) => ({ host: h.host, port: h.port, weight: 1, zone: zone(i) }));
  for (const r of db.replicas ?? []) out.push({ host: r.host, port: r.port, weight: r.weight, zone: zone(out.length) });
  return out;
}

/** A replica's allowed lag: either limit may be absent (null); both absent means no limit. */
export interface LagLimit {
  readonly bytes: number | null;
  readonly seconds: number | null;
}

export const NO_LAG_LIMIT: LagLimit = Object.freeze({ bytes: null, seconds: null });

/** PostgreSQL's memory units (1024-based, as in postgresql.conf), matched case-insensitively. */
const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const SIZE_NAMES: readonly [string, number][] = [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2], ['kB', 1024], ['B', 1]];
/** PostgreSQL's time units, also matched case-insensitively. */
const TIME_UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, min: 60, h: 3600 };

const TERM = /^(\d+(?:\.\d+)?|\.\d+)([a-zA-Z]+)$/;

/**
 * `max_replica_lag`: a size, a time, or both, separated by a comma or blanks: `16MB`, `5s`,
 * `16MB,5s`, `500ms`. Sizes take B, kB, MB, GB, TB (1024-based); times ms, s, min, h. `0` or an
 * empty value means no limit. A replica lags when it is beyond either limit.
 */
export function parseLagLimit(text: string): { ok: true; limit: LagLimit } | { ok: false; expected: string } {
  const expected = 'a size and/or a time with units, such as 16MB, 5s or 16MB,5s (0 for no limit)';
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '0') return { ok: true, limit: NO_LAG_LIMIT };
  let bytes: number | null = null;
  let seconds: number | null = null;
  for (const term of trimmed.split(/[\s,]+/)) {
    const m = TERM.exec(term);
    if (m === null) return { ok: false, expected };
    const n = Number(m[1]);
    const unit = m[2];
    const size = SIZE_UNITS[unit.toLowerCase()];
    const time = TIME_UNITS[unit.toLowerCase()];
    if (size !== undefined && bytes === null) bytes = Math.floor(n * size);
    else if (time !== undefined && seconds === null) seconds = n * time;
    else return { ok: false, expected };
  }
  if (bytes !== null && !Number.isSafeInteger(bytes)) return { ok: false, expected };
  return { ok: true, limit: { bytes, seconds } };
}

/** The canonical text of a limit (SHOW CONFIG): largest exact size unit, then seconds; '0' for none. */
export function formatLagLimit(limit: LagLimit): string {
  const parts: string[] = [];
  if (limit.bytes !== null) {
    const b = limit.bytes;
    const [name, size] = SIZE_NAMES.find(([, s]) => b % s === 0 && b >= s) ?? ['B', 1];
    parts.push(`${b / size}${name}`);
  }
  if (limit.seconds !== null) {
    const ms = Math.round(limit.seconds * 1000);
    parts.push(ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  }
  return parts.length === 0 ? '0' : parts.join(',');
}
