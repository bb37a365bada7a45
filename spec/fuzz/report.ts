// Owns how a fuzz run is reported: one line per family (cases, passes, failures by kind), the
// checks between batches, and the first failures with the bytes sent, so any can be replayed.

import { FAMILIES } from './families';
import { failureCount, type Tally } from './runner';

export function formatTally(t: Tally, command: string): string {
  const lines = [`fuzz: seed ${t.seed}, ${t.cases} cases in ${(t.elapsedMs / 1000).toFixed(1)} s (${command})`];
  const kinds = (f: Partial<Record<string, number>>): string => {
    const parts = Object.entries(f).map(([k, v]) => `${k} ${v}`);
    return parts.length === 0 ? 'no failures' : parts.join(', ');
  };
  for (const name of FAMILIES) {
    const f = t.families[name];
    lines.push(`  ${name.padEnd(12)} ${String(f.cases).padStart(7)} cases ${String(f.passes).padStart(7)} passed   ${kinds(f.failures)}`);
  }
  lines.push(`  ${'between batches'.padEnd(12)} crash / fd-leak / slot-leak / bystander: ${kinds(t.run)}${t.crashed ? ' (pgmux crashed: run stopped)' : ''}`);
  lines.push(`  total failures: ${failureCount(t)}`);
  if (t.stalled.length > 0) {
    lines.push(`  slow once, in time when run again alone (not failures): ${t.stalled.length}`);
    for (const s of t.stalled.slice(0, 5)) lines.push(`  ~ ${s.family} #${s.n}: ${s.detail.slice(0, 200)}`);
  }
  for (const s of t.samples) lines.push(`  - ${s.family} #${s.n} ${s.kind}: ${s.detail}`);
  if (t.failed.length > 0) lines.push(`  failed cases (--seed ${t.seed} --only ...): ${[...t.failed].sort((a, b) => a - b).join(',')}`);
  return lines.join('\n');
}
