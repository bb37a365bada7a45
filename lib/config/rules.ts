// Owns the syntax of the pgmux-only [rules] section: one rule per line, `name = key=value ...`
// (the connect-string grammar of [databases] lines: '' is a quote inside '…', backslashes are
// kept as written, which suits regular expressions), checked whole at load so that a bad rule
// stops startup, or is refused by RELOAD, with "file:line: what to change". Plain data out;
// lib/rules compiles it for matching.

import { ConfigError } from './errors';
import { parseConnString } from './connstring';

/**
 * Statement kinds a rule may match. `read` and `write` are the classifier's verdict (write: all it
 * keeps on the primary: DML, DDL, locking reads, volatile functions, SET ...); the others are
 * the statement's command as PostgreSQL's grammar parses it (any statement of the text counts).
 */
export const RULE_KINDS = [
  'read', 'write', 'select', 'insert', 'update', 'delete', 'merge', 'copy', 'ddl', 'create', 'alter', 'drop',
  'truncate', 'grant', 'transaction', 'set', 'show', 'explain', 'call', 'do', 'vacuum', 'lock', 'other',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** Kinds that always write: a rule sending them to a replica is refused at load. */
const WRITE_KINDS: ReadonlySet<RuleKind> = new Set<RuleKind>(['write', 'insert', 'update', 'delete', 'merge', 'ddl', 'create', 'alter', 'drop', 'truncate', 'grant', 'vacuum', 'lock', 'call', 'do']);

/** Per what a rate limit counts: the rule as a whole, or each user, or each client address. */
export type RateBy = 'rule' | 'user' | 'address';

export interface RateDef {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size: statements that may pass at once after a quiet spell. */
  readonly burst: number;
  readonly by: RateBy;
  /** How long a statement beyond the rate waits for a token before it is refused, ms. */
  readonly waitMs: number;
}

/** One address= entry: an IPv4/IPv6 network, or the Unix socket. */
export type AddressDef = { readonly kind: 'unix' } | { readonly kind: 'ip'; readonly v6: boolean; readonly bytes: readonly number[]; readonly prefix: number; readonly text: string };

/** One rule as written; every field optional but the name, order and where it was written. */
export interface RuleDef {
  readonly name: string;
  /** Rules run by order, then as written. */
  readonly order: number;
  /** "file:line". */
  readonly source: string;
  // ---- match: every given field must hold ----
  readonly users?: readonly string[];
  readonly databases?: readonly string[];
  readonly applicationNames?: readonly string[];
  readonly addresses?: readonly AddressDef[];
  readonly kinds?: readonly RuleKind[];
  /** libpg-query fingerprints (16 hex digits), lower case. */
  readonly fingerprints?: readonly string[];
  /** A regular expression over the statement text (case-insensitive unless it says otherwise). */
  readonly regex?: string;
  readonly inTransaction?: boolean;
  // ---- actions ----
  readonly route?: 'primary' | 'replica';
  readonly deny?: { readonly code: string; readonly message: string };
  readonly timeoutMs?: number;
  readonly rate?: RateDef;
  readonly cacheTtlMs?: number;
  /** After this rule matches, later rules are still tried (their actions add to this one's). */
  readonly continues: boolean;
}

const KEYS = new Set([
  'order', 'user', 'database', 'application_name', 'address', 'kind', 'fingerprint', 'regex', 'in_transaction',
  'route', 'deny', 'sqlstate', 'message', 'statement_timeout', 'rate', 'burst', 'rate_by', 'rate_wait', 'cache_ttl', 'continue',
]);

const DEFAULT_DENY_CODE = '42501';
const DEFAULT_RATE_WAIT_MS = 1000;
/** Longest statement_timeout, rate_wait or cache_ttl accepted: a day. */
const MAX_MS = 86_400_000;

/** Parses the right-hand side of one [rules] line. `position` breaks ties of equal order. Throws ConfigError at `source`. */
export function parseRule(name: string, text: string, source: string): RuleDef {
  const pairs = parseConnString(text, source);
  const fail = (problem: string): never => {
    throw new ConfigError(source, `rule ${name}: ${problem}`);
  };
  for (const key of pairs.keys()) {
    if (!KEYS.has(key)) fail(`unknown key "${key}"; a rule takes ${[...KEYS].join(', ')}`);
  }
  const get = (k: string): string | undefined => pairs.get(k);
  const list = (k: string): string[] | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) fail(`${k} has an empty entry in "${v}"; separate names with commas`);
    return items;
  };
  const bool = (k: string): boolean | undefined => {
    const v = get(k)?.toLowerCase();
    if (v === undefined) return undefined;
    if (['1', 'on', 'yes', 'true'].includes(v)) return true;
    if (['0', 'off', 'no', 'false'].includes(v)) return false;
    return fail(`${k} = ${get(k)} is not a boolean; write yes or no`);
  };
  const duration = (k: string, allowZero = false): number | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    const ms = parseDurationMs(v);
    if (ms === null || ms > MAX_MS || (!allowZero && ms <= 0)) fail(`${k} = ${v} is not a duration; write a number with ms, s, min or h (e.g. 500ms, 5s), at most 1 day`);
    return ms as number;
  };

  const orderText = get('order');
  let order = 0;
  if (orderText !== undefined) {
    if (!/^-?\d+$/.test(orderText)) fail(`order = ${orderText} is not an integer`);
    order = Number(orderText);
  }

  const kinds = list('kind')?.map((k) => k.toLowerCase());
  for (const k of kinds ?? []) {
    if (!(RULE_KINDS as readonly string[]).includes(k)) fail(`kind = ${k} is unknown; use ${RULE_KINDS.join(', ')}`);
  }
  const fingerprints = list('fingerprint')?.map((f) => f.toLowerCase());
  for (const f of fingerprints ?? []) {
    if (!/^[0-9a-f]{16}$/.test(f)) fail(`fingerprint = ${f} is not 16 hex digits; SHOW ROUTE <statement> prints a statement's fingerprint`);
  }
  const regex = get('regex');
  if (regex !== undefined) {
    try {
      new RegExp(regex, 'i');
    } catch (err) {
      fail(`regex '${regex}' does not compile: ${(err as Error).message}`);
    }
  }
  const addresses = list('address')?.map((a) => parseAddress(a) ?? fail(`address ${a} is not an IP address, a CIDR network (10.0.0.0/8, fd00::/8) or unix`));

  const routeText = get('route')?.toLowerCase();
  if (routeText !== undefined && routeText !== 'primary' && routeText !== 'replica') fail(`route = ${get('route')} is unknown; use primary or replica`);
  const route = routeText as RuleDef['route'];

  let deny: RuleDef['deny'];
  const denyOn = bool('deny');
  if (denyOn === true) {
    const code = (get('sqlstate') ?? DEFAULT_DENY_CODE).toUpperCase();
    if (!/^[0-9A-Z]{5}$/.test(code) || code.startsWith('00') || code.startsWith('01') || code.startsWith('02')) {
      fail(`sqlstate = ${get('sqlstate')} is not an error SQLSTATE; write five digits or capital letters outside classes 00, 01 and 02 (e.g. 42501)`);
    }
    deny = { code, message: get('message') ?? `statement denied by pgmux rule "${name}"` };
  } else if (get('sqlstate') !== undefined || get('message') !== undefined) {
    fail('sqlstate and message belong to deny=yes');
  }

  let rate: RateDef | undefined;
  const rateText = get('rate');
  if (rateText !== undefined) {
    const m = /^(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|min|minute|h|hour)$/i.exec(rateText);
    const per = m === null ? 0 : Number(m[1]) / ({ s: 1, sec: 1, second: 1, min: 60, minute: 60, h: 3600, hour: 3600 }[m[2].toLowerCase()] ?? 1);
    if (m === null || !(per > 0)) fail(`rate = ${rateText} is not a rate; write statements per time, e.g. 50/s or 600/min`);
    const burstText = get('burst');
    let burst = Math.max(1, Math.ceil(per));
    if (burstText !== undefined) {
      if (!/^\d+$/.test(burstText) || Number(burstText) < 1) fail(`burst = ${burstText} is not a positive integer`);
      burst = Number(burstText);
    }
    const byText = (get('rate_by') ?? 'rule').toLowerCase();
    if (byText !== 'rule' && byText !== 'user' && byText !== 'address') fail(`rate_by = ${get('rate_by')} is unknown; use rule, user or address`);
    rate = { perSecond: per, burst, by: byText as RateBy, waitMs: duration('rate_wait', true) ?? DEFAULT_RATE_WAIT_MS };
  } else if (get('burst') !== undefined || get('rate_by') !== undefined || get('rate_wait') !== undefined) {
    fail('burst, rate_by and rate_wait belong to rate=');
  }

  const timeoutMs = duration('statement_timeout');
  const cacheTtlMs = duration('cache_ttl');
  const def: RuleDef = {
    name,
    order,
    source,
    users: list('user'),
    databases: list('database'),
    applicationNames: list('application_name'),
    addresses,
    kinds: kinds as RuleKind[] | undefined,
    fingerprints,
    regex,
    inTransaction: bool('in_transaction'),
    route,
    deny,
    timeoutMs,
    rate,
    cacheTtlMs,
    continues: bool('continue') ?? false,
  };
  checkActions(def, fail);
  return def;
}

/** Combinations that cannot do what they say. */
function checkActions(def: RuleDef, fail: (problem: string) => never): void {
  const actions = [def.route, def.deny, def.timeoutMs, def.rate, def.cacheTtlMs].filter((a) => a !== undefined);
  if (actions.length === 0) fail('has no action; give it route=, deny=yes, statement_timeout=, rate= or cache_ttl=');
  if (def.deny !== undefined && actions.length > 1) fail('deny=yes refuses the statement; it cannot also route, time, throttle or cache it');
  if (def.route === 'replica' && def.kinds !== undefined && def.kinds.every((k) => WRITE_KINDS.has(k))) {
    fail(`route=replica for kind=${def.kinds.join(',')}: a replica cannot run writes; route only reads (kind=read, select, show, explain) to a replica`);
  }
  if (def.cacheTtlMs !== undefined) {
    if (def.inTransaction === true) fail('cache_ttl with in_transaction=yes: pgmux caches only answers outside transactions');
    if (def.kinds !== undefined && def.kinds.every((k) => WRITE_KINDS.has(k))) fail(`cache_ttl for kind=${def.kinds.join(',')}: only reads are cached`);
  }
}

/** "500ms", "5s", "2min", "1h", or a bare number of seconds. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|sec|min|h)?$/i.exec(text.trim());
  if (m === null) return null;
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 'min' ? 60_000 : unit === 'h' ? 3_600_000 : 1000;
  return Math.round(Number(m[1]) * factor);
}

/** An IP, a CIDR network or `unix`; null when it is none. */
export function parseAddress(text: string): AddressDef | null {
  if (text.toLowerCase() === 'unix') return { kind: 'unix' };
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const bytes = ipBytes(ip);
  if (bytes === null) return null;
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d+$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  return { kind: 'ip', v6: bytes.length === 16, bytes, prefix, text };
}

/** The bytes of an IPv4 (4) or IPv6 (16) address, or null. An IPv4-mapped IPv6 address gives its IPv4 bytes. */
export function ipBytes(text: string): number[] | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    return parts.every((n) => n <= 255) ? parts : null;
  }
  if (!text.includes(':')) return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  if (mapped !== null) return ipBytes(mapped[1]);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      const n = parseInt(g, 16);
      out.push(n >> 8, n & 0xff);
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 16 ? head : null;
  if (head.length + tail.length > 14) return null;
  return [...head, ...new Array<number>(16 - head.length - tail.length).fill(0), ...tail];
}

/** Rules that need something the settings turned off; null when all can work. */
export function rulesSettingsProblem(rules: readonly RuleDef[], cacheSize: number): ConfigError | null {
  const cached = rules.find((r) => r.cacheTtlMs !== undefined);
  if (cached !== undefined && cacheSize <= 0) {
    return new ConfigError(cached.source, `rule ${cached.name}: cache_ttl needs the result cache; set result_cache_size (bytes, e.g. 67108864) in [pgbouncer] and start pgmux again`);
  }
  return null;
}
