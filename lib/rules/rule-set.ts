// Owns the rules table compiled for matching: which rules can apply to a client at all (user,
// database, application_name and address are the client's, so that is decided once per client,
// not per statement), and the first matching rule among those for one statement (its kind, the
// classifier's verdict, fingerprint, regular expression and transaction state). Pure: the same
// inputs give the same answer; the costly statement facts come from a provider the caller caches
// per statement shape, and what they say for each rule is kept per shape too (a regex= is tested
// on each text: it may look at literals).

import type { AddressDef, RateDef, RuleDef, RuleKind } from '../config';
import { kindBit, type StatementFacts } from './facts';
import type { LastRequest } from './last-request';

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
  /**
   * Matching a statement no regex= holds for asks for its facts anyway: every candidate before
   * the first with kind= commands or fingerprint= (and no in_transaction=) has a regex=. Such a
   * statement's actions then depend on its shape and the transaction state only (unless a
   * kind=read/write asks the classifier), and are kept per shape in `shapes`.
   */
  readonly memoizable: boolean;
  /** The actions per statement shape (facts object), outside and inside a transaction; made at first use. */
  shapes: [WeakMap<StatementFacts, Actions> | null, WeakMap<StatementFacts, Actions> | null];
  /**
   * The last request of one statement that no rule touched, for every client with this view
   * (./client-rules keeps and reads it): shared, so that it stays in the CPU's cache while
   * 100 clients take turns. Made at the first.
   */
  untouched: LastRequest | null;
}

export const NO_VIEW: ClientView = Object.freeze({
  candidates: Object.freeze([]) as readonly number[],
  memoizable: false,
  shapes: Object.freeze([null, null]) as ClientView['shapes'],
  untouched: null,
});

/** The costly part of a statement's description, fetched only when a candidate rule needs it. */
export type FactsOf = () => StatementFacts;

let nextVersion = 1;

/** Distinct views a RuleSet shares among its clients; clients past them get views of their own. */
const MAX_SHARED_VIEWS = 1024;

/** shapeHits() bits per rule: a command of the text is one of its kind= commands; its fingerprint= holds (or it has none). */
const KIND_HIT = 1;
const FINGERPRINT_HIT = 2;

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
  /**
   * No regex= can consume a digit (digitBlind): what they say of a text holds for the texts that
   * differ from it only in the digits of one integer literal (lib/rules/client-rules uses it).
   */
  readonly digitBlind: boolean;

  /** The rules whose kind= or fingerprint= needs the statement's facts. */
  private readonly factRules: readonly CompiledRule[];
  /**
   * shapeHits()'s answers per facts object: the facts provider shares one object among the texts
   * of a shape (lib/rules/engine), so texts that differ only in literals share these too. A
   * regex= may look at literals, so it is tested on each text instead.
   */
  private readonly hits = new WeakMap<StatementFacts, Uint8Array>();
  /** Views by their candidates: clients the same rules can apply to share one (and what it keeps). */
  private readonly views = new Map<string, ClientView>();

  constructor(defs: readonly RuleDef[]) {
    this.rules = defs.map((d, i) => compile(d, i));
    this.factRules = this.rules.filter((r) => r.commandBits !== 0 || r.fingerprints !== null);
    const regexes = defs.filter((d) => d.regex !== undefined).map((d) => `(?:${d.regex})`);
    this.anyRegex = regexes.length === 0 ? null : new RegExp(regexes.join('|'), 'i');
    this.hasCache = defs.some((d) => d.cacheTtlMs !== undefined);
    this.hasRate = defs.some((d) => d.rate !== undefined);
    this.hasTimeout = defs.some((d) => d.timeoutMs !== undefined);
    this.hasDeny = defs.some((d) => d.deny !== undefined);
    this.hasRoute = defs.some((d) => d.route !== undefined);
    this.digitBlind = defs.every((d) => d.regex === undefined || digitBlind(d.regex));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The rules that can apply to this client (its user, database, application_name, address). */
  viewFor(id: ClientIdentity): ClientView {
    const candidates: number[] = [];
    for (const r of this.rules) if (r.matchesIdentity(id)) candidates.push(r.index);
    if (candidates.length === 0) return NO_VIEW;
    const key = candidates.join(',');
    let view = this.views.get(key);
    if (view === undefined) {
      view = this.view(candidates);
      if (this.views.size < MAX_SHARED_VIEWS) this.views.set(key, view);
    }
    return view;
  }

  private view(candidates: readonly number[]): ClientView {
    let memoizable = false;
    for (const i of candidates) {
      const r = this.rules[i];
      if ((r.commandBits !== 0 || r.fingerprints !== null) && r.def.inTransaction === undefined) {
        memoizable = true;
        break;
      }
      if (r.regex === null) break;
    }
    return { candidates, memoizable, shapes: [null, null], untouched: null };
  }

  /**
   * The actions for one statement of a client with this view. `verdict` gives READ_BIT or
   * WRITE_BIT from the classifier, `facts` the statement's facts: each is asked at most once,
   * and only if a candidate rule needs it.
   */
  match(view: ClientView, text: string, verdict: () => number, inTransaction: boolean, facts: FactsOf): Actions {
    const candidates = view.candidates;
    if (candidates.length === 0) return NO_ACTIONS;
    let v = 0;
    /** Asked at the first rule that needs them: the facts and the shape's hits, and whether any regex= holds (-1: not tried). */
    let f: StatementFacts | null = null;
    let shape: Uint8Array | null = null;
    let anyRegex = -1;
    let memo: WeakMap<StatementFacts, Actions> | null = null;
    if (view.memoizable) anyRegex = this.anyRegex !== null && this.anyRegex.test(text) ? 1 : 0;
    if (anyRegex === 0) {
      f = facts();
      const t = inTransaction ? 1 : 0;
      memo = view.shapes[t] ??= new WeakMap();
      const known = memo.get(f);
      if (known !== undefined) return known;
    }
    let first: CompiledRule | null = null;
    let more: CompiledRule[] | null = null;
    for (let i = 0; i < candidates.length; i++) {
      const r = this.rules[candidates[i]];
      const d = r.def;
      if (d.inTransaction !== undefined && d.inTransaction !== inTransaction) continue;
      if (r.statementLevel) {
        if (r.regex !== null) {
          // One alternation of every regex= first: when it fails, none holds (one test instead of one per rule).
          if (anyRegex === -1) anyRegex = (this.anyRegex as RegExp).test(text) ? 1 : 0;
          if (anyRegex === 0 || !r.regex.test(text)) continue;
        }
        const h = r.commandBits !== 0 || r.fingerprints !== null ? (shape ??= this.shapeHits((f ??= facts())))[r.index] : FINGERPRINT_HIT;
        if ((h & FINGERPRINT_HIT) === 0) continue;
        // kind= holds by a command of the text, or by the classifier's read/write (asked only now).
        if ((r.commandBits !== 0 || r.verdictBits !== 0) && (h & KIND_HIT) === 0) {
          if (r.verdictBits === 0 || (r.verdictBits & (v === 0 ? (v = verdict()) : v)) === 0) continue;
        }
      }
      if (first === null) first = r;
      else (more ??= [first]).push(r);
      if (!d.continues) break;
    }
    const actions = first === null ? NO_ACTIONS : more === null ? first.actions : merge(more);
    // Kept unless the classifier's verdict decided (it is a question of the text, not the shape).
    if (memo !== null && v === 0) memo.set(f as StatementFacts, actions);
    return actions;
  }

  /**
   * What the kind= and fingerprint= of every rule that has them say of a statement with these
   * facts, once per facts object (cached): per rule, KIND_HIT when a command of the text is one
   * of its kind= commands, FINGERPRINT_HIT when its fingerprint= holds or it has none.
   */
  private shapeHits(f: StatementFacts): Uint8Array {
    const cached = this.hits.get(f);
    if (cached !== undefined) return cached;
    const hits = new Uint8Array(this.rules.length);
    for (const r of this.factRules) {
      let h = 0;
      if ((f.commands & r.commandBits) !== 0) h |= KIND_HIT;
      if (r.fingerprints === null || r.fingerprints.has(f.fingerprint)) h |= FINGERPRINT_HIT;
      hits[r.index] = h;
    }
    this.hits.set(f, hits);
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
      const one = this.view([r.index]);
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

/**
 * Whether the regular expression `source` (compiled with the i flag only, as every regex= is)
 * can never consume a digit, judged conservatively from its text: no character class, `.`,
 * `\d \D \w \W \S`, `\p \P \u \x \c \k`, backreference or octal escape, and every literal digit
 * comes right after a literal letter, `_` or such a digit (`audit_12`), with no quantifier,
 * group or alternative between them. Such a regex says the same of a text in which one integer
 * literal (digits whose neighbours are not letters, digits, `_` or `.`, lib/routing's
 * IntegerLiterals) is replaced by another run of digits: no match can consume a digit of the run
 * (the digit's pattern needs a letter, `_` or digit before it, which the run's first digit does
 * not have, and inner digits would need the one before to be matched in the run too), so every
 * match lies wholly before or after it, and the assertions it may make at the run's edges (`\b`,
 * `\B`, `^`, `$`, lookarounds) see a digit there in both texts. Quantifier counts (`{2,5}`) are
 * not literal digits.
 */
export function digitBlind(source: string): boolean {
  // The element just before is a plain literal letter, `_`, or a digit allowed by one.
  let afterWordChar = false;
  let i = 0;
  while (i < source.length) {
    const c = source.charCodeAt(i);
    if (c === 92) {
      // \ and the next character: only escapes that match no digit.
      const e = source.charAt(i + 1);
      if (e === '' || 'dDwWSpPuxck0123456789'.includes(e)) return false;
      afterWordChar = false;
      i += 2;
      continue;
    }
    if (c === 46 || c === 91) return false; // . [
    if (c >= 48 && c <= 57) {
      if (!afterWordChar) return false;
      i++;
      continue;
    }
    if (c === 123) {
      // {n}, {n,} or {n,m} is a quantifier: its digits are counts.
      const q = /^\{\d+(?:,\d*)?\}/.exec(source.slice(i));
      i += q === null ? 1 : q[0].length;
      afterWordChar = false;
      continue;
    }
    afterWordChar = c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    i++;
  }
  return true;
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
