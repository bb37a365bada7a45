// Owns reading /metrics in specs with a real Prometheus parser: the official Python client's
// (Debian's python3-prometheus-client), its text-format parser for Prometheus 0.0.4 and its
// OpenMetrics parser, which also reads exemplars and rejects what the standard forbids.
// pgmux's output is parsed by code that is not pgmux's and not written for these specs.

import { run } from './child';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar: { labels: Record<string, string>; value: number; timestamp: number | null } | null;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const PARSE = `
import json, math, sys
fmt = sys.argv[1]
if fmt == 'openmetrics':
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
def num(v):
    return None if v is None else (str(v) if math.isinf(v) or math.isnan(v) else v)
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({'name': f.name, 'type': f.type, 'help': f.documentation, 'samples': [
        {'name': s.name, 'labels': s.labels, 'value': num(s.value),
         'exemplar': None if s.exemplar is None else {'labels': s.exemplar.labels, 'value': num(s.exemplar.value), 'timestamp': None if s.exemplar.timestamp is None else float(s.exemplar.timestamp)}}
        for s in f.samples]})
json.dump(out, sys.stdout)
`;

/** Parses an exposition; rejects with the parser's own complaint when it is not valid. */
export async function parseExposition(text: string, format: 'text' | 'openmetrics'): Promise<MetricFamily[]> {
  const r = await run('/usr/bin/python3', ['-c', PARSE, format], { input: text });
  if (r.code !== 0) throw new Error(`the ${format} parser refused pgmux's /metrics:\n${r.stderr}`);
  return JSON.parse(r.stdout) as MetricFamily[];
}

/** GET /metrics, parsed; `openmetrics` asks for it with the Accept header Prometheus sends. */
export async function scrape(port: number, format: 'text' | 'openmetrics' = 'text'): Promise<{ families: MetricFamily[]; contentType: string; body: string }> {
  const headers: Record<string, string> =
    format === 'openmetrics' ? { accept: 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } : {};
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  const body = await res.text();
  return { families: await parseExposition(body, format), contentType: res.headers.get('content-type') ?? '', body };
}

/** Samples of `name` (a sample name: with _bucket/_sum/_count/_total as the parser gives it) matching `labels`. */
export function samples(families: MetricFamily[], name: string, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** The one sample of `name` with `labels` (fails when there is none or several). */
export function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const found = samples(families, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0].value;
}
