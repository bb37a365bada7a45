// Owns making one /metrics answer out of every worker's: the same families, each sample summed
// over the workers (counters, histogram buckets, sums and counts, connection and memory gauges),
// except gauges that say the same thing in every worker or are a worst case (up, *_info, roles,
// states, timelines, lags, timestamps), which take the largest. Exemplars are the first
// worker's. Works on the text either format renders (Prometheus 0.0.4 or OpenMetrics 1.0), so
// the families stay pgmux's own (lib/metrics/exposition.ts) with no second registry.
// prom-client's AggregatorRegistry does the same for prom-client registries, which pgmux has not.

/** Gauges taken as the largest over the workers rather than their sum. */
const LARGEST = /(_info|_up|_state|_role|_timeline|_timestamp_seconds|_start_time_seconds|_lag_bytes|_lag_seconds|_lag_max_seconds|_rtt_seconds|_search_seconds|_failures|^pgmux_prepared_statements)$/;

interface Family {
  /** HELP, TYPE (and UNIT) lines as the first worker wrote them. */
  head: string[];
  largest: boolean;
  /** Sample key (name and labels) -> value and what follows it (exemplar). */
  samples: Map<string, { value: number; tail: string }>;
}

/** One exposition from several of the same format. */
export function mergeExpositions(bodies: readonly string[]): string {
  const families = new Map<string, Family>();
  let eof = false;
  for (const body of bodies) {
    let current: Family | null = null;
    for (const line of body.split('\n')) {
      if (line === '') continue;
      if (line === '# EOF') {
        eof = true;
        continue;
      }
      if (line.startsWith('# ')) {
        const [, kind, name, rest] = /^# (HELP|TYPE|UNIT) (\S+) ?(.*)$/.exec(line) ?? [];
        if (kind === undefined) continue;
        let f = families.get(name);
        if (f === undefined) {
          f = { head: [], largest: false, samples: new Map() };
          families.set(name, f);
        }
        if (kind === 'TYPE') f.largest = rest === 'gauge' && LARGEST.test(name);
        if (current !== f) current = f;
        if (!f.head.some((h) => h.startsWith(`# ${kind} `))) f.head.push(line);
        continue;
      }
      if (current === null) continue;
      const sample = splitSample(line);
      if (sample === null) continue;
      const seen = current.samples.get(sample.key);
      if (seen === undefined) current.samples.set(sample.key, { value: sample.value, tail: sample.tail });
      else seen.value = current.largest ? Math.max(seen.value, sample.value) : seen.value + sample.value;
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    out.push(...f.head);
    for (const [key, s] of f.samples) out.push(`${key} ${formatValue(s.value)}${s.tail}`);
  }
  if (eof) out.push('# EOF');
  return `${out.join('\n')}\n`;
}

/** `name{labels} value[ rest]` -> key, value, rest; the labels may hold spaces and escaped quotes. */
function splitSample(line: string): { key: string; value: number; tail: string } | null {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  if (line[i] === '{') {
    let quoted = false;
    for (i++; i < line.length; i++) {
      const c = line[i];
      if (quoted && c === '\\') i++;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && c === '}') break;
    }
    i++;
  }
  const key = line.slice(0, i);
  const rest = line.slice(i + 1);
  const space = rest.indexOf(' ');
  const text = space < 0 ? rest : rest.slice(0, space);
  const value = Number(text === '+Inf' ? 'Infinity' : text === '-Inf' ? '-Infinity' : text);
  if (key === '' || (Number.isNaN(value) && text !== 'NaN')) return null;
  return { key, value, tail: space < 0 ? '' : rest.slice(space) };
}

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
