// Owns the builder the classifier specs go through (after PgDog's QueryParserTest): what the
// database knows first (settings lists, pg_proc volatility, standard_conforming_strings), then
// the statement; it answers through both the cached Classifier and the pure classify(), and
// fails if they differ.

import { Classifier, classify, type Classification, type ClassifyOptions } from '../../lib/routing/classify';

/** The fields a case states: target and reason always; unstated optional fields must be absent. */
export type Want = Pick<Classification, 'target' | 'reason'> &
  Partial<Pick<Classification, 'tier' | 'pins' | 'unpins' | 'hint' | 'sessionRoute' | 'unknownFunctions' | 'setFollows'>>;

export class ClassifyTest {
  private readonly writeFunctions: string[] = [];
  private readonly readOnlyFunctions: string[] = [];
  private readonly volatility = new Map<string, boolean>();
  /** Every (name, schema) the volatility lookup was asked about. */
  readonly asked: [string, string | undefined][] = [];
  private scs = true;
  private maxParseLength: number | undefined;

  static given(): ClassifyTest {
    return new ClassifyTest();
  }

  /** `write_functions` entries. */
  writeFunction(...names: string[]): this {
    this.writeFunctions.push(...names);
    return this;
  }

  /** `read_only_functions` entries. */
  readOnlyFunction(...names: string[]): this {
    this.readOnlyFunctions.push(...names);
    return this;
  }

  /** User functions pg_proc says are volatile ('schema.name' or 'name'). */
  volatile(...names: string[]): this {
    for (const n of names) this.volatility.set(n, true);
    return this;
  }

  /** User functions pg_proc says are stable or immutable. */
  stable(...names: string[]): this {
    for (const n of names) this.volatility.set(n, false);
    return this;
  }

  /** The client runs with standard_conforming_strings = off. */
  withoutStandardConformingStrings(): this {
    this.scs = false;
    return this;
  }

  parseLimit(chars: number): this {
    this.maxParseLength = chars;
    return this;
  }

  options(): ClassifyOptions {
    return {
      writeFunctions: this.writeFunctions,
      readOnlyFunctions: this.readOnlyFunctions,
      isVolatile: (name, schema) => {
        this.asked.push([name, schema]);
        return this.volatility.get(schema === undefined ? name : `${schema}.${name}`);
      },
      maxParseLength: this.maxParseLength,
    };
  }

  classifier(): Classifier {
    return new Classifier(this.options());
  }

  get standardConformingStrings(): boolean {
    return this.scs;
  }

  /** Classifies `sql` through a fresh Classifier and through classify(); they must agree. */
  classify(sql: string): Classification {
    const cached = this.classifier().classify(sql, this.scs);
    const pure = classify(sql, this.options(), this.scs);
    expect(pure).toEqual(cached);
    return cached;
  }
}

/** Checks target and reason (and tier when stated) exactly; optional fields must match or be absent. */
export function expectClassification(c: Classification, want: Want): void {
  const actual = {
    target: c.target,
    reason: c.reason,
    ...(want.tier !== undefined ? { tier: c.tier } : {}),
    pins: c.pins,
    unpins: c.unpins,
    hint: c.hint,
    sessionRoute: c.sessionRoute,
    unknownFunctions: c.unknownFunctions,
    // Checked where a case states it (the SET cases of classify.spec).
    ...(want.setFollows !== undefined ? { setFollows: c.setFollows ?? false } : {}),
  };
  const expected = {
    target: want.target,
    reason: want.reason,
    ...(want.tier !== undefined ? { tier: want.tier } : {}),
    pins: want.pins,
    unpins: want.unpins,
    hint: want.hint,
    sessionRoute: want.sessionRoute,
    unknownFunctions: want.unknownFunctions,
    ...(want.setFollows !== undefined ? { setFollows: want.setFollows } : {}),
  };
  expect(actual).toEqual(expected);
}
