// Owns statement classification for read/write splitting: whether a statement text may run on
// a replica, why (a reason code), the session state it pins to the primary, and hints. Two
// tiers (classify-lexer settles the common cases, classify-parser is PostgreSQL's grammar for
// the rest); Classifier caches answers per database by exact and by normalized text.

import { LRUCache } from 'lru-cache';
import { compileOptions, type CompiledOptions } from './classify-functions';
import { BACKSLASH_STRING, Lexer, lexClassify, normalizedText } from './classify-lexer';
import { parserClassify } from './classify-parser';
import { Pin, pinList, type Classification, type ClassifyOptions, type RouteHint, type Tier, type Verdict } from './classify-types';

export { loadParser, parserLoaded } from './classify-parser';
export { IntegerLiterals, literalsElided, normalizedText } from './classify-lexer';
export type {
  Classification,
  ClassifyOptions,
  PinReason,
  PreparedUse,
  PreparedUses,
  RouteHint,
  SessionRoute,
  Target,
  Tier,
} from './classify-types';

/**
 * Applies the leading-comment hint to a tier's verdict. The answer is shared by the caches and
 * readonly by type; it is not frozen, since Object.freeze would cost more than the lexing.
 */
function finish(v: Verdict, hint: RouteHint | undefined, tier: Tier): Classification {
  let target = v.target;
  let reason = v.reason;
  if (hint === 'primary') {
    target = 'primary';
    reason = 'primary: hint';
  } else if (hint === 'replica' && v.target === 'primary' && v.onlyFunctions) {
    // The hint vouches for the user functions; it cannot make a write run on a replica.
    target = 'replica';
    reason = 'replica: hint';
  }
  const c: { -readonly [K in keyof Classification]: Classification[K] } = { target, reason, tier };
  if (v.pins !== 0) c.pins = pinList(v.pins);
  if ((v.pins & Pin.set) !== 0 && !v.stickySet) {
    c.setFollows = true;
    if (v.setStatement) c.onlySettings = true;
  }
  if (v.unpins !== 0) c.unpins = pinList(v.unpins);
  if (hint !== undefined) c.hint = hint;
  if (v.sessionRoute !== undefined) c.sessionRoute = v.sessionRoute;
  if (v.sessionKey !== undefined) c.sessionKey = v.sessionKey;
  if (v.unknownFunctions !== undefined && v.unknownFunctions.length > 0) c.unknownFunctions = [...v.unknownFunctions];
  if (v.target === 'primary' && v.onlyFunctions) c.onlyFunctions = true;
  if (v.prepared !== undefined) {
    // The parts carry no hint: the router reads the whole text's.
    const part = (p: Verdict | null): Classification | null => (p === null ? null : finish(p, undefined, tier));
    c.prepared = { uses: v.prepared.uses.map((u) => ({ kind: u.kind, name: u.name, classification: part(u.verdict) })), rest: part(v.prepared.rest) };
  }
  return c;
}

/**
 * A classification with a route imposed from outside the text (a [rules] route=, `why` naming
 * the rule), as a leading-comment hint would: primary always; replica only for what a replica
 * can run (a read, or a statement on the primary only for its user functions), accepting its
 * lag as the replica hint does. A write stays on the primary with its own reason.
 */
export function withRoute(c: Classification, to: RouteHint, why: string): Classification {
  if (to === 'primary') return { ...c, target: 'primary', reason: `primary: ${why}`, hint: 'primary' };
  if (c.target === 'primary' && c.onlyFunctions !== true) return c;
  return { ...c, target: 'replica', reason: `replica: ${why}`, hint: 'replica' };
}

function hintKey(hint: RouteHint | undefined): string {
  return hint === 'primary' ? 'P' : hint === 'replica' ? 'R' : '-';
}

/**
 * Without standard_conforming_strings a backslash escapes in '…' too, which the parser (and the
 * lexer) cannot follow: such text goes to the primary, uncached.
 */
function ambiguous(sql: string, standardConformingStrings: boolean): boolean {
  return !standardConformingStrings && sql.includes('\\');
}

const compiled = new WeakMap<ClassifyOptions, CompiledOptions>();
const NO_OPTIONS = compileOptions();

/**
 * Classifies one statement text (possibly several statements), uncached. Pure: the answer
 * depends only on the text, the options and whether loadParser() has finished.
 */
export function classify(sql: string, opts?: ClassifyOptions, standardConformingStrings = true): Classification {
  let o = NO_OPTIONS;
  if (opts !== undefined) {
    o = compiled.get(opts) ?? compileOptions(opts);
    compiled.set(opts, o);
  }
  const lx = new Lexer(sql);
  if (ambiguous(sql, standardConformingStrings)) {
    lx.next();
    return finish(BACKSLASH_STRING, lx.hint, 'lexer');
  }
  const v = lexClassify(lx, o);
  if (v !== undefined) return finish(v, lx.hint, 'lexer');
  return finish(parserClassify(sql, o), lx.hint, 'parser');
}

/** Counters for SHOW and the benchmark; plain numbers. */
export interface ClassifierStats {
  exactHits: number;
  normalizedHits: number;
  /** Cache misses the lexer settled. */
  lexer: number;
  /** Cache misses that needed the parser. */
  parser: number;
}

export interface ClassifierCacheOptions {
  /** Entries per cache (exact text, normalized text). */
  max?: number;
  /** Total characters of keys per cache, so a few huge statements cannot hold much memory. */
  maxChars?: number;
}

/**
 * Classification for one database: its options compiled once, and answers cached by exact text
 * and (for the parser's answers) by normalized text, so simple-protocol traffic whose literals
 * change still hits. Call invalidate() when the volatility lookup or the settings change.
 */
export class Classifier {
  readonly stats: ClassifierStats = { exactHits: 0, normalizedHits: 0, lexer: 0, parser: 0 };
  private readonly o: CompiledOptions;
  private readonly exact: LRUCache<string, Classification>;
  private readonly normalized: LRUCache<string, Classification>;

  constructor(opts: ClassifyOptions = {}, cache: ClassifierCacheOptions = {}) {
    this.o = compileOptions(opts);
    const options = {
      max: cache.max ?? 10000,
      maxSize: cache.maxChars ?? 4_000_000,
      sizeCalculation: (_: Classification, key: string): number => key.length + 64,
    };
    this.exact = new LRUCache<string, Classification>(options);
    this.normalized = new LRUCache<string, Classification>(options);
  }

  /** Cached entries (exact, normalized), for SHOW and specs. */
  get size(): { exact: number; normalized: number } {
    return { exact: this.exact.size, normalized: this.normalized.size };
  }

  classify(sql: string, standardConformingStrings = true): Classification {
    if (ambiguous(sql, standardConformingStrings)) return classify(sql, undefined, false);
    const hit = this.exact.get(sql);
    if (hit !== undefined) {
      this.stats.exactHits++;
      return hit;
    }
    const lx = new Lexer(sql);
    const v = lexClassify(lx, this.o);
    if (v !== undefined) {
      this.stats.lexer++;
      const c = finish(v, lx.hint, 'lexer');
      if (v.cacheable) this.exact.set(sql, c);
      return c;
    }
    const text = normalizedText(sql);
    const key = text === undefined ? undefined : hintKey(lx.hint) + text;
    if (key !== undefined) {
      const n = this.normalized.get(key);
      if (n !== undefined) {
        this.stats.normalizedHits++;
        this.exact.set(sql, n);
        return n;
      }
    }
    this.stats.parser++;
    const pv = parserClassify(sql, this.o);
    const c = finish(pv, lx.hint, 'parser');
    if (pv.cacheable) {
      this.exact.set(sql, c);
      if (key !== undefined && !pv.literalSensitive) this.normalized.set(key, c);
    }
    return c;
  }

  /** Forgets every cached answer (the volatility lookup or the function lists changed). */
  invalidate(): void {
    this.exact.clear();
    this.normalized.clear();
  }
}
