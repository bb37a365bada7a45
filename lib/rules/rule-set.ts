// Owns the rules table compiled for matching: which rules can apply to a client at all (user,
// database, application_name and address are the client's, so that is decided once per client,
// not per statement), and the first matching rule among those for one statement (its kind, the
// classifier's verdict, fingerprint, regular expression and transaction state). Pure: the same
// inputs give the same answer; the costly statement facts come from a provider the caller caches.

import type { AddressDef, RateDef, RuleDef, RuleKind } from '../config';
import { kindBit, type StatementFacts } from './facts';
import { TwoMaps } from './two-maps';

/** What pgmux does to a statement, merged over the rules that matched (first match wins per action). */
export interface Actions {
  /** The matched rules, in order (a rule with continue=yes lets the next one match too). */
  readonly rules: readonly CompiledRule[];
  readonly route?: { readonly to: 'primary' | 'replica'; readonly rule: CompiledRule };
  readonly deny?: { readonly code: string; readonly message: string; readonly rule: CompiledRule };
  readonly timeout?: { readonly ms: number; readonly rule: CompiledRule };
  /** Every matched rule with a rate: a statement passes only with a token from each. */
  readonly rates?: readonly CompiledRule[];
  readonly cache?: { readonly ttlMs: number; readonly rule: CompiledRule };
}

/** Nothing to do: shared by every statement no rule touches. */
export const NO_ACTIONS: Actions = Object.freeze({ rules: Object.freeze([]) as readonly CompiledRule[] });

/** Who a client is, as far as rules are concerned. */
export interface ClientIdentity {
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  /** The peer's address bytes (4 or 16), or null for a Unix socket. */
  readonly address: readonly number[] | null;
}

/** Counters per rule (SHOW RULES). Plain numbers. */
export interface RuleCounters {
  matched: number;
  denied: number;
  throttled: number;
  refused: number;
  timedOut: number;
  cached: number;
}

export interface CompiledRule {
  readonly def: RuleDef;
  readonly index: number;
  readonly name: string;
  /** Bits of the command kinds of kind= (facts needed), and of read/write (the classifier's verdict). */
  readonly commandBits: number;
  readonly verdictBits: number;
  readonly fingerprints: ReadonlySet<string> | null;
  readonly regex: RegExp | null;
  /** Some predicate looks at the statement (kind, fingerprint, regex). */
  readonly statementLevel: boolean;
  /** Some predicate looks at the client beyond its database (user, application_name, address, in_transaction). */
  readonly clientConditions: boolean;
  /** This rule's own actions, used as they are when it is the only one that matched. */
  readonly actions: Actions;
  readonly counters: RuleCounters;
  readonly rate: RateDef | null;
  matchesIdentity(id: ClientIdentity): boolean;
  matchesDatabase(name: string): boolean;
}

/** The classifier's verdict bits for kind=read / kind=write. */
export const READ_BIT = kindBit('read');
export const WRITE_BIT = kindBit('write');
const VERDICT_BITS = READ_BIT | WRITE_BIT;

/** The rules that can match one client, and how to match them per statement. */
export interface ClientView {
  /** Indices of the rules whose identity predicates hold, in rule order. */
  readonly candidates: readonly number[];
  /** No candidate looks at the statement: the actions depend on the transaction state only. */
  readonly identityOnly: boolean;
}

export const NO_VIEW: ClientView = Object.freeze({ candidates: Object.freeze([]) as readonly number[], identityOnly: true });

/** The costly part of a statement's description, fetched only when a candidate rule needs it. */
export type FactsOf = () => StatementFacts;

let nextVersion = 1;

/** hitsOf() bits: a kind= command matched; regex= and fingerprint= hold. */
const KIND_HIT = 1;
const OTHER_HIT = 2;
/** The hits of a client with no statement-level candidate: never read. */
const NO_HITS = new Uint8Array(0);
/** Statement texts whose hits are kept per generation (./two-maps), and their characters. */
const HIT_TEXTS = 10_000;
const HIT_CHARS = 2_000_000;

export class RuleSet {
  readonly rules: readonly CompiledRule[];
  /** Changes with every load: clients whose view predates it compute it again. */
  readonly version = nextVersion++;
  /** One alternation of every regex=: when it fails, no rule's regex holds (one test instead of one per rule). */
  private readonly anyRegex: RegExp | null;
  readonly hasCache: boolean;
  readonly hasRate: boolean;
  readonly hasTimeout: boolean;
  readonly hasDeny: boolean;
  readonly hasRoute: boolean;

  /** The rules that look at the statement (kind, regex, fingerprint). */
  private readonly statementRules: readonly CompiledRule[];
  /** hitsOf()'s answers by statement text. */
  private readonly hits = new TwoMaps<Uint8Array>(HIT_TEXTS, HIT_CHARS);

  constructor(defs: readonly RuleDef[]) {
    this.rules = defs.map((d, i) => compile(d, i));
    this.statementRules = this.rules.filter((r) => r.statementLevel);
    const regexes = defs.filter((d) => d.regex !== undefined).map((d) => `(?:${d.regex})`);
    this.anyRegex = regexes.length === 0 ? null : new RegExp(regexes.join('|'), 'i');
    this.hasCache = defs.some((d) => d.cacheTtlMs !== undefined);
    this.hasRate = defs.some((d) => d.rate !== undefined);
    this.hasTimeout = defs.some((d) => d.timeoutMs !== undefined);
    this.hasDeny = defs.some((d) => d.deny !== undefined);
    this.hasRoute = defs.some((d) => d.route !== undefined);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rules that can apply to this client (its user, database, application_name, address). */
  viewFor(id: ClientIdentity): ClientView {
    const candidates: number[] = [];
    let identityOnly = true;
    for (const r of this.rules) {
      if (!r.matchesIdentity(id)) continue;
      candidates.push(r.index);
      if (r.statementLevel) identityOnly = false;
    }
    return candidates.length === 0 ? NO_VIEW : { candidates, identityOnly };
  }

  /**
   * The actions for one statement of a client with this view. `verdict` gives READ_BIT or
   * WRITE_BIT from the classifier, `facts` the statement's facts: each is asked at most once,
   * and only if a candidate rule needs it.
   */
  match(view: ClientView, text: string, verdict: () => number, inTransaction: boolean, facts: FactsOf): Actions {
    const candidates = view.candidates;
    if (candidates.length === 0) return NO_ACTIONS;
    const hits = view.identityOnly ? NO_HITS : this.hitsOf(text, facts);
    let v = 0;
    let first: CompiledRule | null = null;
    let more: CompiledRule[] | null = null;
    for (let i = 0; i < candidates.length; i++) {
      const r = this.rules[candidates[i]];
      const d = r.def;
      if (d.inTransaction !== undefined && d.inTransaction !== inTransaction) continue;
      if (r.statementLevel) {
        const h = hits[r.index];
        if ((h & OTHER_HIT) === 0) continue;
        // kind= holds by a command of the text, or by the classifier's read/write (asked only now).
        if ((r.commandBits !== 0 || r.verdictBits !== 0) && (h & KIND_HIT) === 0) {
          if (r.verdictBits === 0 || (r.verdictBits & (v === 0 ? (v = verdict()) : v)) === 0) continue;
        }
      }
      if (first === null) first = r;
      else (more ??= [first]).push(r);
      if (!d.continues) break;
    }
    if (first === null) return NO_ACTIONS;
    return more === null ? first.actions : merge(more);
  }

  /**
   * What the statement-level predicates of every rule say of `text`, once per distinct text
   * (cached): per rule, KIND_HIT when a command of the text is one of its kind= commands, and
   * OTHER_HIT when its regex= and fingerprint= hold (or it has none). Every regex is tried as one
   * alternation first; the facts are asked only if some rule has command kinds or fingerprints.
   */
  private hitsOf(text: string, facts: FactsOf): Uint8Array {
    const cached = this.hits.get(text);
    if (cached !== undefined) return cached;
    const hits = new Uint8Array(this.rules.length);
    const anyRegex = this.anyRegex !== null && this.anyRegex.test(text);
    let known: StatementFacts | null = null;
    for (const r of this.statementRules) {
      let h = 0;
      if (r.commandBits !== 0 && ((known ??= facts()).commands & r.commandBits) !== 0) h |= KIND_HIT;
      const regexOk = r.regex === null || (anyRegex && r.regex.test(text));
      if (regexOk && (r.fingerprints === null || r.fingerprints.has((known ??= facts()).fingerprint))) h |= OTHER_HIT;
      hits[r.index] = h;
    }
    this.hits.set(text, hits);
    return hits;
  }

  /**
   * SHOW ROUTE: the rules that may act on `text` in `database`, in order, as far as the
   * statement tells; who the client is and its transaction are conditions printed with each.
   * Stops after the first rule that holds for every client and does not continue, as matching does.
   */
  explain(database: string, text: string, verdict: () => number, facts: FactsOf): CompiledRule[] {
    const out: CompiledRule[] = [];
    for (const r of this.rules) {
      if (!r.matchesDatabase(database)) continue;
      const one: ClientView = { candidates: [r.index], identityOnly: false };
      if (this.match(one, text, verdict, r.def.inTransaction ?? false, facts) === NO_ACTIONS) continue;
      out.push(r);
      if (!r.def.continues && !r.clientConditions) break;
    }
    return out;
  }
}

/** The actions of several matched rules: for each action, the first rule that has it. */
function merge(rules: readonly CompiledRule[]): Actions {
  let route: Actions['route'];
  let deny: Actions['deny'];
  let timeout: Actions['timeout'];
  let cache: Actions['cache'];
  const rates: CompiledRule[] = [];
  for (const r of rules) {
    const a = r.actions;
    route ??= a.route;
    deny ??= a.deny;
    timeout ??= a.timeout;
    cache ??= a.cache;
    if (r.rate !== null) rates.push(r);
  }
  return { rules, route, deny, timeout, cache, rates: rates.length > 0 ? rates : undefined };
}

function compile(def: RuleDef, index: number): CompiledRule {
  let commandBits = 0;
  let verdictBits = 0;
  for (const k of def.kinds ?? []) {
    const bit = kindBit(k as RuleKind);
    if ((bit & VERDICT_BITS) !== 0) verdictBits |= bit;
    else commandBits |= bit;
  }
  const users = names(def.users);
  const databases = names(def.databases);
  const apps = names(def.applicationNames);
  const addresses = def.addresses ?? null;
  const rule: { -readonly [K in keyof CompiledRule]: CompiledRule[K] } = {
    def,
    index,
    name: def.name,
    commandBits,
    verdictBits,
    fingerprints: def.fingerprints === undefined ? null : new Set(def.fingerprints),
    regex: def.regex === undefined ? null : new RegExp(def.regex, 'i'),
    statementLevel: def.kinds !== undefined || def.fingerprints !== undefined || def.regex !== undefined,
    clientConditions: def.users !== undefined || def.applicationNames !== undefined || def.addresses !== undefined || def.inTransaction !== undefined,
    actions: NO_ACTIONS,
    counters: { matched: 0, denied: 0, throttled: 0, refused: 0, timedOut: 0, cached: 0 },
    rate: def.rate ?? null,
    matchesDatabase: (name) => databases === null || databases(name),
    matchesIdentity: (id) =>
      (users === null || users(id.user)) &&
      (databases === null || databases(id.database)) &&
      (apps === null || apps(id.applicationName)) &&
      (addresses === null || addresses.some((a) => addressMatches(a, id.address))),
  };
  const self = rule as CompiledRule;
  rule.actions = Object.freeze({
    rules: Object.freeze([self]),
    route: def.route === undefined ? undefined : { to: def.route, rule: self },
    deny: def.deny === undefined ? undefined : { ...def.deny, rule: self },
    timeout: def.timeoutMs === undefined ? undefined : { ms: def.timeoutMs, rule: self },
    rates: def.rate === undefined ? undefined : Object.freeze([self]),
    cache: def.cacheTtlMs === undefined ? undefined : { ttlMs: def.cacheTtlMs, rule: self },
  });
  return self;
}

/** A list of names, each exact or with `*` wildcards, as one predicate; null when absent. */
function names(list: readonly string[] | undefined): ((name: string) => boolean) | null {
  if (list === undefined) return null;
  const exact = new Set(list.filter((n) => !n.includes('*')));
  const globs = list.filter((n) => n.includes('*')).map((n) => new RegExp(`^${n.split('*').map(escapeRegex).join('.*')}$`));
  return (name) => exact.has(name) || globs.some((g) => g.test(name));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function addressMatches(a: AddressDef, address: readonly number[] | null): boolean {
  if (a.kind === 'unix') return address === null;
  if (address === null || address.length !== a.bytes.length) return false;
  let bits = a.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i] & mask) !== (a.bytes[i] & mask)) return false;
  }
  return true;
}

/** What a rule does, in words (SHOW RULES, SHOW ROUTE). */
export function describeActions(def: RuleDef): string {
  const out: string[] = [];
  if (def.route !== undefined) out.push(`route=${def.route}`);
  if (def.deny !== undefined) out.push(`deny ${def.deny.code} "${def.deny.message}"`);
  if (def.timeoutMs !== undefined) out.push(`statement_timeout=${def.timeoutMs}ms`);
  if (def.rate !== undefined) out.push(`rate=${+def.rate.perSecond.toFixed(3)}/s burst=${def.rate.burst} by ${def.rate.by} wait ${def.rate.waitMs}ms`);
  if (def.cacheTtlMs !== undefined) out.push(`cache_ttl=${def.cacheTtlMs}ms`);
  if (def.continues) out.push('continue');
  return out.join(', ');
}

/** What a rule matches, in words. */
export function describeMatch(def: RuleDef): string {
  const out: string[] = [];
  if (def.users !== undefined) out.push(`user=${def.users.join(',')}`);
  if (def.databases !== undefined) out.push(`database=${def.databases.join(',')}`);
  if (def.applicationNames !== undefined) out.push(`application_name=${def.applicationNames.join(',')}`);
  if (def.addresses !== undefined) out.push(`address=${def.addresses.map((a) => (a.kind === 'unix' ? 'unix' : a.text)).join(',')}`);
  if (def.kinds !== undefined) out.push(`kind=${def.kinds.join(',')}`);
  if (def.fingerprints !== undefined) out.push(`fingerprint=${def.fingerprints.join(',')}`);
  if (def.regex !== undefined) out.push(`regex='${def.regex}'`);
  if (def.inTransaction !== undefined) out.push(`in_transaction=${def.inTransaction ? 'yes' : 'no'}`);
  return out.length === 0 ? 'every statement' : out.join(' ');
}
