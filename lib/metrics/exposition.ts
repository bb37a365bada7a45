// Owns turning metric families into what GET /metrics answers: Prometheus text format 0.0.4, or
// OpenMetrics 1.0 when the scraper asks for it (exemplars only exist there), through
// prom-client's registries, which do the formatting, escaping and content types. pgmux's own
// families read live state at scrape time (./families-*.ts), node's process metrics included
// (./families-process.ts: prom-client's defaults read /proc synchronously at every scrape,
// which with thousands of client sockets blocks the event loop for milliseconds).
//
// A family is a plain object whose collect() returns samples; counters are named with their
// `_total` as Prometheus shows them. prom-client's OpenMetrics registry renames counters in
// place (it strips `_total` from the family and adds it to every sample), so each registry gets
// its own view of a family instead of sharing one object.

import { Registry, type Metric, type OpenMetricsContentType, type RegistryContentType } from 'prom-client';

export type FamilyType = 'counter' | 'gauge' | 'histogram';
export type Labels = Readonly<Record<string, string>>;

export interface Exemplar {
  readonly labelSet: Labels;
  readonly value: number;
  readonly timestamp: number;
}

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
  /** For a histogram's `_bucket`, `_sum` and `_count` lines. */
  readonly metricName?: string;
  readonly exemplar?: Exemplar;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: FamilyType;
  collect(): Sample[];
}

/** The content types prom-client writes (and Prometheus asks for). */
export const PROMETHEUS_TEXT = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_TEXT = Registry.OPENMETRICS_CONTENT_TYPE;

/** What prom-client's registries call on a metric: its name, help, type and a snapshot. */
interface RegistryMetric {
  name: string;
  readonly help: string;
  readonly type: FamilyType | 'summary';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] }>;
  reset(): void;
}

export class Exposition {
  private readonly text = new Registry();
  private readonly openMetrics = new Registry<OpenMetricsContentType>();

  constructor(
    families: readonly Family[],
    /** Called before each scrape (caches of rows read once per scrape start over). */
    private readonly beforeScrape: () => void = () => undefined,
    /** Called after each scrape (measures "since the last scrape" start over). */
    private readonly afterScrape: () => void = () => undefined,
  ) {
    this.openMetrics.setContentType(OPENMETRICS_TEXT);
    for (const f of families) {
      this.register(this.text, familyView(f, f.name));
      this.register(this.openMetrics, familyView(f, f.type === 'counter' ? stripTotal(f.name) : f.name));
    }
  }

  /** The whole exposition in the format asked for. */
  async render(openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    const registry = openMetrics ? this.openMetrics : this.text;
    this.beforeScrape();
    try {
      return { contentType: registry.contentType, body: await registry.metrics() };
    } finally {
      this.afterScrape();
    }
  }

  private register(registry: Registry<RegistryContentType>, metric: RegistryMetric): void {
    // prom-client's own metric classes are the only declared type; the registry reads nothing
    // but the fields RegistryMetric has (lib/registry.js getMetricsAsString).
    registry.registerMetric(metric as unknown as Metric);
  }
}

function familyView(f: Family, name: string): RegistryMetric {
  return {
    name,
    help: f.help,
    type: f.type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help: f.help, type: f.type, aggregator: 'sum', values: f.collect() }),
    reset: () => undefined,
  };
}

function stripTotal(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

// ---- building samples ----

/** OpenMetrics wants canonical numbers in `le`: 1.0 rather than 1. */
export function canonical(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  const s = String(n);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/** `le` label values of a bucket layout (µs bounds shown in seconds), made once per layout. */
const LE_VALUES = new WeakMap<readonly number[], readonly string[]>();

function leValues(bounds: readonly number[]): readonly string[] {
  let les = LE_VALUES.get(bounds);
  if (les === undefined) {
    les = [...bounds.map((b) => canonical(b / 1e6)), '+Inf'];
    LE_VALUES.set(bounds, les);
  }
  return les;
}

/** A histogram's bucket, sum and count lines, seconds from microseconds; exemplars on their buckets. */
export function histogramSamples(
  name: string,
  labels: Labels,
  h: { readonly bounds: readonly number[]; readonly counts: Float64Array; readonly sum: number; readonly count: number; readonly exemplars: { readonly traceIds: readonly (string | null)[]; readonly values: Float64Array; readonly times: Float64Array } | null },
  out: Sample[],
): void {
  let cumulative = 0;
  const ex = h.exemplars;
  const les = leValues(h.bounds);
  const bucket = `${name}_bucket`;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i];
    const withLe: Record<string, string> = Object.assign({}, labels);
    withLe.le = les[i];
    const traceId = ex === null ? null : ex.traceIds[i];
    if (traceId === null || ex === null) out.push({ metricName: bucket, labels: withLe, value: cumulative });
    else out.push({ metricName: bucket, labels: withLe, value: cumulative, exemplar: { labelSet: { trace_id: traceId }, value: ex.values[i] / 1e6, timestamp: ex.times[i] } });
  }
  out.push({ metricName: `${name}_sum`, labels, value: h.sum / 1e6 });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

/** A family from a name, help, type and a function filling samples: most families are one line. */
export function family(name: string, type: FamilyType, help: string, fill: (out: Sample[]) => void): Family {
  return {
    name,
    type,
    help,
    collect() {
      const out: Sample[] = [];
      fill(out);
      return out;
    },
  };
}
