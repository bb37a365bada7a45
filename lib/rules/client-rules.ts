// Owns the rules as one client meets them: which rules can apply to it (decided at login and
// again when its application_name or the rules change), what its requests and statements get
// (route, deny, statement_timeout, rate, cache), and the per-client half of the result cache
// (the answer being captured, the writes of the transaction in progress). lib/client calls it at
// four places: when an unlinked client's request is about to be placed (admit), for each Query
// or Parse forwarded (statement), for each ReadyForQuery (ready), and for a server's error
// (rewriteError); the rest is its own. It knows nothing of sockets or pools.

import { decodeErrorFields, errorResponse, READY_IDLE } from '../protocol/backend';
import { FrontendCode, TxStatus } from '../protocol/codes';
import { ipBytes } from '../config';
import * as refusals from '../protocol/refusals';
import { parse as parseFrame, query as queryFrame } from '../protocol/frontend';
import { bucketKey } from './buckets';
import type { CacheCatalog } from './catalog';
import type { LastText, RulesEngine } from './engine';
import { ALL, hasTimeWord, type StatementFacts, type Writes } from './facts';
import { LastRequest } from './last-request';
import { keepableAnswer, readBatch, type StatementTexts } from './request';
import type { CacheCounters } from './result-cache';
import { NO_ACTIONS, NO_VIEW, READ_BIT, WRITE_BIT, type Actions, type ClientIdentity, type ClientView, type CompiledRule } from './rule-set';

/** The classifier's answer for a text, as far as rules need it (lib/routing's Classification fits). */
export interface StatementClass {
  readonly target: 'primary' | 'replica';
  readonly reason: string;
  readonly pins?: readonly string[];
}

/** One database as the rules of its clients see it; the wiring (lib/pool/registry) provides it. */
export interface RulesDatabase {
  /** The pgmux database name. */
  readonly name: string;
  /** The server database behind it (dbname at its hosts): a write through any alias of it invalidates. */
  readonly domain: string;
  readonly readYourWrites: 'off' | 'connection' | 'user' | 'database' | 'key';
  classify(sql: string): StatementClass;
  /** The catalog facts for caching, or null while not fetched (a call starts the fetch). */
  catalog(): CacheCatalog | null;
  /** DDL committed through pgmux: fetch the catalog again. */
  catalogChanged(): void;
}

/** The client as its rules see it (lib/client's ClientConnection). */
export interface ClientOrigin extends StatementTexts {
  readonly id: number;
  readonly user: string;
  /** "ip:port" or "unix". */
  readonly remote: string;
  /** Its tracked parameters now; a new map whenever one changes (application_name picks rules, the rest is in cache keys). */
  readonly params: ReadonlyMap<string, string>;
}

/** What to do with an unlinked client's request. */
export type Admission =
  /** Send it on (with `route` set when a rule routes it). */
  | { readonly kind: 'go' }
  /** pgmux answers it itself (a cached answer, a denial, a rate refusal): these bytes, then the client is idle again. */
  | { readonly kind: 'answer'; readonly bytes: Buffer }
  /** Throttled: ask again in `ms`. */
  | { readonly kind: 'hold'; readonly ms: number };

export interface RouteOverride {
  readonly to: 'primary' | 'replica';
  /** For the reason code: "rule <name>". */
  readonly rule: string;
}

const GO: Admission = Object.freeze({ kind: 'go' });

/**
 * A denied statement goes to the server as this text, which PostgreSQL refuses at parse time
 * (42601) whatever the protocol and the transaction: the server keeps the order of answers and
 * aborts the transaction as it would for any error, and pgmux puts the rule's error in place of
 * the syntax error. No client can tell.
 */
export const DENY_MARKER = 'pgmux_denied_by_rule';
const MARKER_QUOTED = `"${DENY_MARKER}"`;
const SYNTAX_ERROR = '42601';
const QUERY_CANCELED = '57014';

/** `/* pgmux:cache ttl=5s *\/`: cache this statement's answer (ttl optional). */
const CACHE_HINT = /\/\*\s*pgmux:cache(?:\s+ttl\s*=\s*(\d+(?:\.\d+)?)\s*(ms|s|min)?)?\s*\*\//i;
const DEFAULT_HINT_TTL_MS = 5000;

/** An answer being captured for the cache. */
interface Capture {
  readonly key: string;
  readonly reads: readonly string[];
  readonly ttlMs: number;
  readonly readAt: number;
  readonly chunks: Buffer[];
  bytes: number;
  /** The server that answers (set when the request is forwarded); null until then. */
  server: object | null;
  readonly rule: CompiledRule | null;
}

/** A statement matched before it reached the relay (admit), used again when it is forwarded. */
interface Matched {
  readonly text: string;
  /** The classifier's answer, asked only when something needs it (a kind=read/write rule, the cache). */
  cls: StatementClass | null;
  readonly actions: Actions;
}

/** Servers on which a client created session state the cache key cannot see (a temp table, SET of an untracked parameter). */
const tainted = new WeakSet<object>();

/** The linked server as the rules see it: its transaction state, and itself (for taints). */
export interface RulesServer {
  /** Status byte of its last ReadyForQuery. */
  readonly txStatus: number;
}

export class ClientRules {
  /** The route a rule gives the request admit() let go (the router reads it), else null. */
  route: RouteOverride | null = null;
  private view: ClientView = NO_VIEW;
  /**
   * Some rule may apply to this client, or the cache tracks its writes (`inspects`), as of the
   * last refresh(): read per request without touching the view.
   */
  private inspecting = false;
  private viewVersion = -1;
  private appName: string | null = null;
  private paramsSeen: ReadonlyMap<string, string> | null = null;
  /** The tracked parameters as part of a cache key, made when the cache first needs it after they change. */
  private paramsKey: string | null = null;
  /** The peer's address bytes, parsed when a rule set first has rules to match against this client (undefined before). */
  private address: readonly number[] | null | undefined = undefined;
  private readonly scope: string | null;
  /** Statements admit() matched, in the order the relay will forward them. */
  private readonly matched: Matched[] = [];
  /** admit() put statements in `matched` since it last emptied it (untouched requests leave the array alone). */
  private matchedSome = false;
  /** Rules denied statements whose marker errors the server still owes, in order. */
  private readonly denials: CompiledRule[] = [];
  /** statement_timeout: when the running statement must be cancelled (clock ms), 0 when none. */
  private deadline = 0;
  private timeoutRule: CompiledRule | null = null;
  /** The cancel for the deadline went out: the server's 57014 gets the statement-timeout text. */
  private cancelled = false;
  /** When the request being admitted was first held by a rate (clock ms); -1 when not held. */
  private heldSince = -1;
  private capture: Capture | null = null;
  /** Tables the transaction in progress wrote, ALL, or null when none (cache on only). */
  private txWrites: Set<string> | typeof ALL | null = null;
  private txDdl = false;
  /** The client made session state the cache key cannot see: it neither reads nor fills the cache. */
  private noCache = false;
  /** Named statements' writes, from their Parse (for the Binds that run them); made at the first (cache on only). */
  private named: Map<string, Writes> | null = null;
  /** The server linked now, for taints and captures (set by statement()). */
  private server: object | null = null;
  /** The statement match() asks the rules about, for the two questions they may ask back (made once: no closures per statement). */
  private matching: Matched | null = null;
  private readonly verdictOfMatching = (): number => {
    this.verdictAsked = true;
    return this.classOf(this.matching as Matched).target === 'replica' ? READ_BIT : WRITE_BIT;
  };
  private readonly factsOfMatching = (): StatementFacts => {
    this.factsAsked = true;
    return this.factsOf((this.matching as Matched).text);
  };
  /** What the rules asked while matching the statement in `matching`. */
  private verdictAsked = false;
  private factsAsked = false;
  /**
   * The last text whose facts the rules asked for, and those facts: a text that differs from it
   * only inside one integer literal (pgbench's next account) has them too, found without lexing
   * it or looking its key up. Made at the first statement that needs facts.
   */
  private lastText: LastText | null = null;
  private lastFacts: StatementFacts | null = null;
  /**
   * The last statement matched and its answer (match()); `byShape`: the answer came from its
   * facts (`lastText` describes it) and its regex= verdicts alone, without the classifier's;
   * `classified`: the classifier's verdict was asked for it.
   */
  private readonly last: { view: ClientView; inTransaction: boolean; text: string; actions: Actions; byShape: boolean; classified: boolean } = {
    view: NO_VIEW,
    inTransaction: false,
    text: '',
    actions: NO_ACTIONS,
    byShape: false,
    classified: false,
  };
  /** admit() let the request go as untouched (quick): its one statement needs nothing when forwarded. */
  private untouched = false;

  constructor(
    private readonly engine: RulesEngine,
    private readonly db: RulesDatabase,
    private readonly origin: ClientOrigin,
  ) {
    this.scope = scopeOf(db, origin);
  }

  /** Query and Parse must be seen whole: some rule may apply to this client, or the cache tracks its writes. */
  get inspects(): boolean {
    this.refresh();
    return this.inspecting;
  }

  /** Binds of named statements must be seen: the cache tracks the writes they run. */
  get inspectsBinds(): boolean {
    return this.engine.cache !== null;
  }

  /** An answer is being captured: every byte to the client goes to captured(). */
  get capturing(): boolean {
    return this.capture !== null;
  }

  /** Brings the view up to date with the rules loaded now and the client's parameters (application_name). */
  private refresh(): void {
    const params = this.origin.params;
    if (params !== this.paramsSeen) {
      this.paramsSeen = params;
      this.paramsKey = null;
      if ((params.get('application_name') ?? '') !== this.appName) this.viewVersion = -1;
    }
    const rules = this.engine.rules;
    if (this.viewVersion === rules.version) return;
    const app = params.get('application_name') ?? '';
    this.appName = app;
    this.viewVersion = rules.version;
    // No rules loaded (the usual case): nothing to match, and nothing of the client's to parse for it (pgbench -C makes a client per transaction).
    if (rules.rules.length === 0) {
      this.view = NO_VIEW;
      return;
    }
    if (this.address === undefined) this.address = addressBytes(this.origin.remote);
    const id: ClientIdentity = { user: this.origin.user, database: this.db.name, applicationName: app, address: this.address };
    this.view = rules.viewFor(id);
    this.inspecting = this.view.candidates.length > 0 || this.engine.cache !== null;
  }

  /**
   * The actions for `m.text`; classifies it (into m.cls) only if a candidate rule asks for the
   * verdict. The same text as the last one (a driver parsing its statement again for each
   * execution) gets the same answer: matching depends on nothing else but the view and the
   * transaction state. So does a text that differs from the last one only in the digits of one
   * integer literal (pgbench's next account), when that answer came from the last text's facts
   * and regex= verdicts alone and no regex= can see a digit (RuleSet.digitBlind): it has the
   * same facts (the same elided key), and every regex= says of it what it said of the last.
   */
  private match(m: Matched, inTransaction: boolean): Actions {
    const view = this.view;
    if (view.candidates.length === 0) return NO_ACTIONS;
    const text = m.text;
    const last = this.last;
    if (last.view === view && last.inTransaction === inTransaction) {
      if (last.text === text) return last.actions;
      if (last.byShape && this.engine.rules.digitBlind && (this.lastText as LastText).follows(text)) {
        last.text = text;
        this.engine.followed(this.lastFacts as StatementFacts);
        return last.actions;
      }
    }
    this.matching = m;
    this.verdictAsked = false;
    this.factsAsked = false;
    const actions = this.engine.rules.match(view, text, this.verdictOfMatching, inTransaction, this.factsOfMatching);
    last.view = view;
    last.inTransaction = inTransaction;
    last.text = text;
    last.actions = actions;
    last.byShape = this.factsAsked && !this.verdictAsked;
    last.classified = this.verdictAsked;
    return actions;
  }

  /** The facts of `text`, a statement the rules match. */
  private factsOf(text: string): StatementFacts {
    const last = (this.lastText ??= this.engine.lastText());
    const known = this.lastFacts;
    if (known !== null && last.follows(text)) return this.engine.followed(known);
    return (this.lastFacts = this.engine.facts(text, last));
  }

  private classOf(m: Matched): StatementClass {
    return (m.cls ??= this.db.classify(m.text));
  }

  // ---- an unlinked client's request ----

  /**
   * An unlinked client's request (`pending`, its bytes so far), before pgmux asks for a server:
   * what the rules say of its statements. `now` is the clock in ms.
   */
  admit(pending: readonly Buffer[], now: number): Admission {
    this.refresh();
    if (this.matchedSome) {
      clear(this.matched);
      this.matchedSome = false;
    }
    this.route = null;
    this.untouched = false;
    if (!this.inspecting) return GO;
    // A request like the last one no rule touched (its statement the same bytes, or the same but
    // the digits of one integer literal): untouched too. See keepUntouched for why.
    const quick = this.view.untouched;
    if (quick !== null && quick.owner === this.view && pending.length === 1 && quick.follows(pending[0])) {
      this.untouched = true;
      return GO;
    }
    const buf = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    const batch = readBatch(buf, this.origin, this.engine.cache !== null);
    let route: RouteOverride | null = null;
    let deny: Actions['deny'] = undefined;
    let denyFirst = false;
    let rates: CompiledRule[] | null = null;
    let cacheTtl = -1;
    let cacheRule: CompiledRule | null = null;
    for (let i = 0; i < batch.statements.length; i++) {
      const st = batch.statements[i];
      const m: { text: string; cls: StatementClass | null; actions: Actions } = { text: st.text, cls: null, actions: NO_ACTIONS };
      const actions = (m.actions = this.match(m, false));
      if (st.type !== 'bind') {
        this.matched.push(m);
        this.matchedSome = true;
      }
      if (actions === NO_ACTIONS && this.engine.cache === null) continue;
      if (actions.route !== undefined && route === null) route = { to: actions.route.to, rule: actions.route.rule.name };
      if (actions.deny !== undefined && deny === undefined) {
        deny = actions.deny;
        denyFirst = i === 0;
      }
      if (actions.rates !== undefined) (rates ??= []).push(...actions.rates);
      if (batch.statements.length === 1) {
        if (actions.cache !== undefined) {
          cacheTtl = actions.cache.ttlMs;
          cacheRule = actions.cache.rule;
        } else if (this.engine.cache !== null) cacheTtl = hintTtl(st.text);
      }
    }
    // A denial of the request's first statement is answered here: nothing of it would have run.
    if (deny !== undefined && denyFirst && batch.whole) {
      this.matched.length = 0;
      countMatched(batch.statements.length === 1 ? this.matchedRules(deny.rule) : [deny.rule]);
      deny.rule.counters.denied++;
      return { kind: 'answer', bytes: Buffer.concat([errorResponse(refusals.ruleDenied(deny.code, deny.message)), READY_IDLE]) };
    }
    if (rates !== null && deny === undefined) {
      const held = this.throttle(rates, batch.whole, now);
      if (held !== null) return held;
    }
    if (cacheTtl > 0 && deny === undefined && batch.cacheKey !== null) {
      const answer = this.fromCache(batch.cacheKey, batch.statements[0].text, cacheTtl, cacheRule);
      if (answer !== null) return answer;
    }
    this.route = route;
    if (pending.length === 1 && batch.statements.length === 1 && this.matched.length === 1 && this.matched[0].actions === NO_ACTIONS) this.keepUntouched(buf, batch.statements[0].text);
    return GO;
  }

  /**
   * `request`, of the one statement `text` that admit() just matched to no rule, becomes the
   * last untouched request of the clients with this view (RuleSet shares views), unless the
   * result cache is on (every request is looked up there) or the classifier's verdict decided
   * (it may change with the catalog; matching asks it again). A later request whose statement
   * is the same bytes has the same text, and so the same answer: matching depends on nothing
   * else but the view and the transaction state, which is none at admission. When the answer
   * came from the text's facts and regex= verdicts alone and no regex= can see a digit
   * (RuleSet.digitBlind), so does a request whose statement differs only in the digits of one
   * of the text's integer literals (as lexed, IntegerLiterals): the same argument as match()'s
   * for such a text.
   */
  private keepUntouched(request: Buffer, text: string): void {
    const last = this.last;
    const view = this.view;
    if (this.engine.cache !== null || view === NO_VIEW || last.text !== text || last.view !== view || last.inTransaction || last.classified) return;
    const quick = (view.untouched ??= new LastRequest());
    const integers = last.byShape && this.engine.rules.digitBlind && this.lastText !== null ? this.lastText.integersOf(text, quick.spans) : 0;
    quick.keep(request, text, integers, view);
  }

  /** The rules admit() matched for the one statement of the batch. */
  private matchedRules(rule: CompiledRule): readonly CompiledRule[] {
    return this.matched.length > 0 ? this.matched[0].actions.rules : [rule];
  }

  /**
   * A token from each rate the request's statements matched (one per request). Returns null to go
   * on, a hold to ask again, or the refusal once the longest rate_wait has passed (only for a
   * whole request: pgmux cannot answer half of one, so an incomplete one goes on).
   */
  private throttle(rates: readonly CompiledRule[], whole: boolean, now: number): Admission | null {
    const buckets = this.engine.buckets;
    let wait = 0;
    let worst: CompiledRule = rates[0];
    for (const r of rates) {
      const rate = r.rate;
      if (rate === null) continue;
      const ms = buckets.peek(bucketKey(r.name, rate, this.origin.user, this.addressText()), rate, now);
      if (ms > wait) {
        wait = ms;
        worst = r;
      }
    }
    if (wait === 0) {
      for (const r of rates) if (r.rate !== null) buckets.take(bucketKey(r.name, r.rate, this.origin.user, this.addressText()), r.rate, now);
      this.heldSince = -1;
      return null;
    }
    const rate = worst.rate;
    if (rate === null) return null;
    if (this.heldSince < 0) {
      this.heldSince = now;
      worst.counters.throttled++;
    }
    const waited = now - this.heldSince;
    if (waited + wait <= rate.waitMs) return { kind: 'hold', ms: wait };
    this.heldSince = -1;
    if (!whole) return null;
    this.matched.length = 0;
    worst.counters.refused++;
    const refusal = refusals.rateLimited(worst.name, formatRate(rate.perSecond), rate.waitMs);
    return { kind: 'answer', bytes: Buffer.concat([errorResponse(refusal), READY_IDLE]) };
  }

  private addressText(): string {
    const colon = this.origin.remote.lastIndexOf(':');
    return colon < 0 ? this.origin.remote : this.origin.remote.slice(0, colon);
  }

  /** A cached answer for the request, or null (a miss arms the capture of the server's answer). */
  private fromCache(requestKey: string, text: string, ttlMs: number, rule: CompiledRule | null): Admission | null {
    const cache = this.engine.cache;
    if (cache === null || this.noCache) return null;
    const counters = cache.countersOf(this.db.name);
    const reads = this.cacheableReads(text, counters);
    if (reads === null) return null;
    this.paramsKey ??= paramsKey(this.paramsSeen ?? this.origin.params);
    const key = `${this.db.name}\u0000${this.origin.user}\u0000${this.paramsKey}\u0000${requestKey}`;
    const answer = cache.get(key, this.scope, Date.now(), counters);
    if (answer !== null) {
      if (rule !== null) {
        countMatched(this.matched[0]?.actions.rules ?? [rule]);
        rule.counters.cached++;
      }
      this.matched.length = 0;
      return { kind: 'answer', bytes: answer };
    }
    this.capture = { key, reads, ttlMs, readAt: cache.now(), chunks: [], bytes: 0, server: null, rule };
    return null;
  }

  /** The tables a cacheable statement reads, or null (counted) when its answer must not be kept. */
  private cacheableReads(text: string, counters: CacheCounters): readonly string[] | null {
    const first = this.matched[0];
    const cls = first !== undefined ? this.classOf(first) : this.db.classify(text);
    if (cls.target !== 'replica' || hasTimeWord(text)) {
      counters.uncacheable++;
      return null;
    }
    const catalog = this.db.catalog();
    if (catalog === null) return null;
    const facts = this.engine.facts(text);
    if (catalog.judge(facts) !== null) {
      counters.uncacheable++;
      return null;
    }
    return facts.reads;
  }

  // ---- forwarded statements ----

  /**
   * A Query, Parse or Bind on its way to `server` (buf[start] is its type): statement_timeout,
   * the cache's writes. Returns the frame to send instead (a denied statement's marker), or null
   * to forward it as it is.
   */
  clientFrame(type: number, buf: Buffer, start: number, end: number, server: RulesServer, now: number): Buffer | null {
    if (type !== FrontendCode.Bind) return this.inspects ? this.statement(type, buf, start, end, server.txStatus !== TxStatus.Idle, server, now) : null;
    if (this.engine.cache === null) return null;
    // Portal name, then statement name: a named statement runs what its Parse said it writes.
    const portalEnd = buf.indexOf(0, start + 5);
    if (portalEnd >= start + 5 && portalEnd + 1 < end && buf[portalEnd + 1] !== 0) {
      const nameEnd = buf.indexOf(0, portalEnd + 1);
      this.bind(buf.toString('utf8', portalEnd + 1, nameEnd < 0 || nameEnd > end ? end : nameEnd));
    }
    return null;
  }

  /** A Query or Parse on its way to `server`: the marker in place of a denied one, else null. */
  private statement(type: number, buf: Buffer, start: number, end: number, inTransaction: boolean, server: object, now: number): Buffer | null {
    this.server = server;
    if (this.capture !== null && this.capture.server === null) this.capture.server = server;
    if (this.untouched) {
      // Untouched at admission (admit's quick case, never while the cache is on): nothing to do.
      this.untouched = false;
      return null;
    }
    let m = this.matchedSome ? this.matched.shift() : undefined;
    // Matched at admission to no rule: nothing to do unless the cache tracks its writes.
    if (m !== undefined && m.actions === NO_ACTIONS && this.engine.cache === null) return null;
    let name = '';
    let nameEnd = start + 5;
    if (type === FrontendCode.Parse) {
      nameEnd = buf.indexOf(0, start + 5);
      if (nameEnd < 0 || nameEnd >= end) return null;
      name = buf.toString('utf8', start + 5, nameEnd);
      nameEnd++;
    }
    if (m === undefined) {
      const stop = buf.indexOf(0, nameEnd);
      const text = buf.toString('utf8', nameEnd, stop < 0 || stop >= end ? end : stop);
      const fresh: { text: string; cls: StatementClass | null; actions: Actions } = { text, cls: null, actions: NO_ACTIONS };
      fresh.actions = this.match(fresh, inTransaction);
      m = fresh;
    }
    const actions = m.actions;
    if (actions !== NO_ACTIONS) countMatched(actions.rules);
    if (actions.deny !== undefined) {
      actions.deny.rule.counters.denied++;
      this.denials.push(actions.deny.rule);
      return type === FrontendCode.Query ? queryFrame(DENY_MARKER) : parseFrame(name, DENY_MARKER, []);
    }
    if (actions.timeout !== undefined && (this.deadline === 0 || now + actions.timeout.ms < this.deadline)) {
      this.deadline = now + actions.timeout.ms;
      this.timeoutRule = actions.timeout.rule;
    }
    if (this.engine.cache !== null) this.track(m.text, this.classOf(m), name);
    return null;
  }

  /**
   * The request goes to a replica. Its answer may be older than writes other clients committed
   * (the replica's lag), which the cache's invalidation clock cannot see: it is kept only where
   * read_your_writes is off, so that no client is later served data older than its own write.
   */
  onReplica(): void {
    const cache = this.engine.cache;
    if (this.capture === null || cache === null || this.db.readYourWrites === 'off') return;
    this.capture = null;
    cache.countersOf(this.db.name).notStored++;
  }

  /** The client came with session settings of its own (startup options, lib/session/settings): the cache key cannot see them. */
  sessionSettings(): void {
    this.noCache = true;
  }

  /** A Bind of the named statement `name` (cache on): the transaction runs what it writes. */
  private bind(name: string): void {
    if (name === '') return;
    this.addWrites(this.named?.get(name) ?? ALL);
  }

  /** Cache bookkeeping of a forwarded statement: its writes, and session state the key cannot see. */
  private track(text: string, cls: StatementClass, name: string): void {
    const pins = cls.pins;
    if (pins !== undefined && (pins.includes('set') || pins.includes('temp-table'))) {
      this.noCache = true;
      if (this.server !== null) tainted.add(this.server);
    }
    let writes: Writes = [];
    if (cls.target === 'primary') {
      const facts = this.engine.facts(text);
      // A volatile or unknown function may write anything.
      writes = cls.reason.includes('function') ? ALL : facts.writes;
      if (facts.ddl) this.txDdl = true;
    }
    if (name !== '') (this.named ??= new Map()).set(name, writes);
    else this.addWrites(writes);
  }

  private addWrites(writes: Writes): void {
    if (writes === ALL) this.txWrites = ALL;
    else if (writes.length > 0 && this.txWrites !== ALL) {
      const set = this.txWrites ?? new Set<string>();
      for (const t of writes) set.add(t);
      this.txWrites = set;
    }
  }

  // ---- the server's answers ----

  /** Bytes on their way to the client while an answer is captured. */
  captured(bytes: Buffer): void {
    const c = this.capture as Capture;
    c.bytes += bytes.length;
    // Past the limit: kept no more, only counted (the answer is passed on whole as always).
    if (c.bytes <= this.maxAnswer()) c.chunks.push(Buffer.from(bytes));
  }

  private maxAnswer(): number {
    return this.engine.cache?.maxAnswer ?? 0;
  }

  /**
   * The request went to a server that died before answering any of it and goes again to another
   * (lib/client/resend): what was owed by the dead one is not, and its statements are matched
   * afresh as they are forwarded again (a rate's token was taken once, at admission).
   */
  resent(): void {
    this.matched.length = 0;
    this.untouched = false;
    this.denials.length = 0;
    this.deadline = 0;
    this.cancelled = false;
    this.timeoutRule = null;
    this.capture = null;
  }

  /** A ReadyForQuery reached the client with `status`; `owed` more are still to come. */
  ready(status: number, owed: number): void {
    if (owed > 0) return;
    // A marker whose statement the server skipped (an earlier error in its batch) is owed nothing now.
    clear(this.denials);
    this.deadline = 0;
    this.cancelled = false;
    this.timeoutRule = null;
    if (this.capture !== null) this.finishCapture();
    if (status !== TxStatus.Idle) return;
    const cache = this.engine.cache;
    if (cache !== null && (this.txWrites !== null || this.txDdl)) {
      cache.committed(this.db.domain, this.txDdl ? ALL : (this.txWrites === ALL ? ALL : [...(this.txWrites as Set<string>)]), this.scope);
      if (this.txDdl) this.db.catalogChanged();
    }
    this.txWrites = null;
    this.txDdl = false;
  }

  private finishCapture(): void {
    const c = this.capture as Capture;
    this.capture = null;
    const cache = this.engine.cache;
    if (cache === null) return;
    const answer = c.chunks.length === 1 ? c.chunks[0] : Buffer.concat(c.chunks);
    if (c.bytes > cache.maxAnswer || !keepableAnswer(answer) || (c.server !== null && tainted.has(c.server)) || this.noCache) {
      cache.countersOf(this.db.name).notStored++;
      return;
    }
    cache.store(c.key, this.db.name, this.db.domain, c.reads, answer, c.ttlMs, c.readAt, Date.now());
  }

  /**
   * A server's ErrorResponse for this client: the rule's error in place of a denial marker's
   * syntax error, PostgreSQL's statement-timeout text in place of the cancel's. Null: as it is.
   */
  rewriteError(buf: Buffer, start: number, end: number): Buffer | null {
    if (this.denials.length === 0 && !this.cancelled) return null;
    const fields = decodeErrorFields(buf, start, end);
    if (fields.kind === 'invalid') return null;
    if (this.denials.length > 0 && fields.code === SYNTAX_ERROR && fields.message.includes(MARKER_QUOTED)) {
      const rule = this.denials.shift() as CompiledRule;
      const deny = rule.def.deny;
      if (deny === undefined) return null;
      return errorResponse(refusals.ruleDenied(deny.code, deny.message));
    }
    if (this.cancelled && fields.code === QUERY_CANCELED && this.timeoutRule !== null) {
      this.cancelled = false;
      return errorResponse(refusals.ruleStatementTimeout(this.timeoutRule.name, this.timeoutRule.def.timeoutMs ?? 0));
    }
    return null;
  }

  /** The janitor's check: true once when the running statement passed its statement_timeout (cancel it). */
  timedOut(now: number): boolean {
    if (this.deadline === 0 || this.cancelled || now < this.deadline) return false;
    this.cancelled = true;
    if (this.timeoutRule !== null) this.timeoutRule.counters.timedOut++;
    return true;
  }

  /** The request was answered by pgmux or dropped: nothing it matched is still to be forwarded. */
  requestDone(): void {
    this.matched.length = 0;
    this.untouched = false;
    this.capture = null;
  }

  closed(): void {
    this.capture = null;
    if (this.scope !== null && this.scope.startsWith('c')) this.engine.cache?.forgetScope(this.scope);
  }
}

/** Empties `list`: setting an array's length is a call into the runtime, skipped when already empty (every statement). */
function clear(list: unknown[]): void {
  if (list.length !== 0) list.length = 0;
}

function countMatched(rules: readonly CompiledRule[]): void {
  for (const r of rules) r.counters.matched++;
}

function hintTtl(text: string): number {
  if (text.indexOf('pgmux:cache') < 0) return -1;
  const m = CACHE_HINT.exec(text);
  if (m === null) return -1;
  if (m[1] === undefined) return DEFAULT_HINT_TTL_MS;
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'ms' ? 1 : unit === 'min' ? 60_000 : 1000));
}

function formatRate(perSecond: number): string {
  return perSecond >= 1 ? `${+perSecond.toFixed(3)}/s` : `${+(perSecond * 60).toFixed(3)}/min`;
}

/** The read_your_writes scope a client's commits count for (the cache will not serve it older answers). */
function scopeOf(db: RulesDatabase, origin: ClientOrigin): string | null {
  switch (db.readYourWrites) {
    case 'off':
      return null;
    case 'user':
      return `u\u0000${db.domain}\u0000${origin.user}`;
    case 'database':
      return `d\u0000${db.domain}`;
    default:
      return `c\u0000${origin.id}`;
  }
}

/** Every tracked parameter but application_name, in name order: part of every cache key. */
function paramsKey(params: ReadonlyMap<string, string>): string {
  const names = [...params.keys()].filter((n) => n !== 'application_name').sort();
  return names.map((n) => `${n}=${params.get(n) ?? ''}`).join('\u0001');
}

/** The bytes of "ip:port" (IPv4 or IPv6), null for a Unix socket or what does not parse. */
function addressBytes(remote: string): readonly number[] | null {
  if (remote === 'unix') return null;
  const colon = remote.lastIndexOf(':');
  const ip = colon < 0 ? remote : remote.slice(0, colon);
  return ipBytes(ip);
}
