// Owns turning metric families into what GET /metrics answers: Prometheus text format 0.0.4, or
// OpenMetrics 1.0 when the scraper asks for it (exemplars only exist there), through
// prom-client's registries, which do the formatting, escaping and content types. pgmux's own
// families read live state at scrape time (./families-*.ts); node's process metrics are
// prom-client's defaults.
//
// A family is a plain object whose collect() returns samples; counters are named with their
// `_total` as Prometheus shows them. prom-client's OpenMetrics registry renames counters in
// place (it strips `_total` from the family and adds it to every sample), so each registry gets
// its own view of a family instead of sharing one object.

import { collectDefaultMetrics, Registry, type Metric, type OpenMetricsContentType, type RegistryContentType } from 'prom-client';

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
    processMetrics = true,
  ) {
    this.openMetrics.setContentType(OPENMETRICS_TEXT);
    if (processMetrics) {
      // CPU, memory, event loop lag, GC: registered once, then shown in OpenMetrics too.
      collectDefaultMetrics({ register: this.text });
      for (const m of this.text.getMetricsAsArray()) this.register(this.openMetrics, openMetricsView(m as unknown as RegistryMetric));
    }
    for (const f of families) {
      this.register(this.text, familyView(f, f.name));
      this.register(this.openMetrics, familyView(f, f.type === 'counter' ? stripTotal(f.name) : f.name));
    }
  }

  /** The whole exposition in the format asked for. */
  async render(openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    const registry = openMetrics ? this.openMetrics : this.text;
    this.beforeScrape();
    return { contentType: registry.contentType, body: await registry.metrics() };
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

/** One of prom-client's metrics as the OpenMetrics registry may rename it. */
function openMetricsView(m: RegistryMetric): RegistryMetric {
  const name = m.type === 'counter' ? stripTotal(m.name) : m.name;
  return { name, help: m.help, type: m.type, aggregator: 'sum', get: () => m.get(), reset: () => undefined };
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

/** A histogram's bucket, sum and count lines, seconds from microseconds; exemplars on their buckets. */
export function histogramSamples(
  name: string,
  labels: Labels,
  h: { readonly bounds: readonly number[]; readonly counts: Float64Array; readonly sum: number; readonly count: number; readonly exemplars: { readonly traceIds: readonly (string | null)[]; readonly values: Float64Array; readonly times: Float64Array } | null },
  out: Sample[],
): void {
  let cumulative = 0;
  const ex = h.exemplars;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i];
    const le = i < h.bounds.length ? canonical(h.bounds[i] / 1e6) : '+Inf';
    const traceId = ex === null ? null : ex.traceIds[i];
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le },
      value: cumulative,
      ...(traceId === null || ex === null ? {} : { exemplar: { labelSet: { trace_id: traceId }, value: ex.values[i] / 1e6, timestamp: ex.times[i] } }),
    });
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
