// Owns what every client's rules share: the compiled rules table (replaced whole by RELOAD), the
// rate buckets, the result cache, and the statement facts cache (by the text with its literals
// elided, then by the classifier's normalized text, so one parse serves a statement shape
// whatever its literals, and a text that differs from one seen before only in its literals costs
// one lexer pass and one lookup, or neither when it differs from the client's last text only in
// one integer). Built by the composition root; each client gets a ClientRules over it
// (./client-rules).

import type { RuleDef } from '../config';
import { Buckets } from './buckets';
import { statementFacts, type StatementFacts } from './facts';
import { ResultCache } from './result-cache';
import { RuleSet } from './rule-set';
import { TwoMaps } from './two-maps';

/** The cache settings (result_cache_size, result_cache_max_answer). */
export interface CacheSettings {
  readonly result_cache_size: number;
  readonly result_cache_max_answer: number;
}

/**
 * The classifier's literal-free forms of a text (lib/routing): `elided` keeps all but the literals
 * (cheap, fine-grained), `normalized` also drops comments, case and spacing. Texts equal under
 * `elided` are equal under `normalized`. Undefined when the text does not tokenize. `elided`
 * given a client's LastText (made by `lastText()`) also notes the text there.
 */
export interface StatementShapes {
  elided(sql: string, last?: LastText): string | undefined;
  normalized(sql: string): string | undefined;
  lastText(): LastText;
}

/**
 * A client's last text whose facts it asked for (lib/routing's IntegerLiterals): tells, without
 * lexing, that a new text has the same elided key (it differs only inside one integer literal).
 */
export interface LastText {
  /** `next` has the last text's elided key; it is the last text from now on. */
  follows(next: string): boolean;
  /** No last text. */
  forget(): void;
  /** When `text` is the last text: the [start, end) of its integer literals into `out` (room for 16), and how many; else 0. */
  integersOf(text: string, out: Int32Array): number;
}

/** Statement facts cached per literal-free text and per shape: entries and key characters per generation (./two-maps). */
const FACTS_ENTRIES = 10_000;
const FACTS_CHARS = 2_000_000;

/** Facts of texts longer than this are not computed per text: such statements match kind=other only. */
const MAX_FACTS_TEXT = 100_000;

const TOO_LONG: StatementFacts = Object.freeze({
  commands: 0,
  reads: [],
  writes: 'all',
  ddl: false,
  functions: [],
  ctes: [],
  uncacheable: 'too long',
  fingerprint: '',
});

export class RulesEngine {
  rules: RuleSet;
  readonly buckets = new Buckets();
  /** Null while result_cache_size is 0. */
  readonly cache: ResultCache | null;
  /** Facts computed (each a parse), how many lookups the caches answered, and how many a client's last text did (followed()). */
  readonly factStats = { parsed: 0, elidedHits: 0, normalizedHits: 0, followed: 0 };
  private readonly elided = new TwoMaps<StatementFacts>(FACTS_ENTRIES, FACTS_CHARS);
  private readonly normalized = new TwoMaps<StatementFacts>(FACTS_ENTRIES, FACTS_CHARS);

  constructor(
    defs: readonly RuleDef[],
    settings: CacheSettings,
    private readonly shapes: StatementShapes,
  ) {
    this.rules = new RuleSet(defs);
    this.cache = settings.result_cache_size > 0 ? new ResultCache(settings.result_cache_size, settings.result_cache_max_answer) : null;
  }

  /**
   * RELOAD: the new rules from now on (each client picks them up at its next statement). Buckets
   * of rules that kept their name carry over; cached answers stay (their keys hold no rule).
   */
  reload(defs: readonly RuleDef[]): void {
    this.rules = new RuleSet(defs);
    this.buckets.keepOnly(new Set(defs.map((d) => d.name)));
  }

  /** The facts of `text`: from the caches, or parsed once. With `last`, `text` becomes its last text. */
  facts(text: string, last?: LastText): StatementFacts {
    if (text.length > MAX_FACTS_TEXT) {
      last?.forget();
      return TOO_LONG;
    }
    // pgbench's `... WHERE aid = 12345` is a new text nearly every time, never a new key here.
    const key = this.shapes.elided(text, last) ?? text;
    const hit = this.elided.get(key);
    if (hit !== undefined) {
      this.factStats.elidedHits++;
      return hit;
    }
    const shape = this.shapes.normalized(text);
    let f = shape === undefined ? undefined : this.normalized.get(shape);
    if (f !== undefined) this.factStats.normalizedHits++;
    else {
      this.factStats.parsed++;
      f = statementFacts(text);
      if (shape !== undefined) this.normalized.set(shape, f);
    }
    this.elided.set(key, f);
    return f;
  }

  /** Where a client keeps its last text for facts() (one per client that asks for facts). */
  lastText(): LastText {
    return this.shapes.lastText();
  }

  /** The facts of a text that follows a client's last text (LastText.follows): `known`, that text's. */
  followed(known: StatementFacts): StatementFacts {
    this.factStats.followed++;
    return known;
  }
}
