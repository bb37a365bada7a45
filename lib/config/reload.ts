// Owns what a RELOAD may change: which settings differ between the running config and the
// re-read one, and which of those must wait for a restart (PgBouncer's CF_NO_RELOAD rows).

import { SETTINGS, type SettingValue, type Settings } from './settings';
import { formatSetting } from './values';
import type { Config } from './types';

export interface ReloadChanges {
  /** Settings whose value changed and takes effect now. */
  applied: string[];
  /** Settings whose value changed in the file but keep their running value until a restart. */
  ignored: { name: string; reason: string }[];
}

/** Compares every setting by its SHOW CONFIG text, in table order. */
export function reloadChanges(prev: Config, next: Config): ReloadChanges {
  const applied: string[] = [];
  const ignored: { name: string; reason: string }[] = [];
  const before = asRecord(prev.settings);
  const after = asRecord(keepUnset(prev, next));
  for (const row of SETTINGS) {
    if (row.aliasOf !== undefined) continue;
    const a = before[row.name];
    const b = after[row.name];
    if (a === undefined || b === undefined || formatSetting(row, a) === formatSetting(row, b)) continue;
    if (row.reloadable) applied.push(row.name);
    else ignored.push({ name: row.name, reason: `${row.name} cannot be changed by RELOAD; restart pgmux` });
  }
  return { applied, ignored };
}

/**
 * The config to run after a RELOAD: `next`, except that settings which cannot change while
 * running keep `prev`'s value, as PgBouncer silently does.
 */
export function applyReload(prev: Config, next: Config): Config {
  const merged: Record<string, SettingValue | undefined> = { ...asRecord(keepUnset(prev, next)) };
  const before = asRecord(prev.settings);
  for (const row of SETTINGS) {
    const kept = before[row.name];
    if (row.aliasOf === undefined && !row.reloadable && kept !== undefined) merged[row.name] = kept;
  }
  // Same keys as next.settings, each with a value of its own row's type: still a Settings.
  return { ...next, settings: merged as unknown as Settings };
}

/**
 * next's settings, except that a setting without a PgBouncer default which next's file leaves
 * out keeps its running value (a SET verbose, say, survives a RELOAD of a file without verbose).
 */
function keepUnset(prev: Config, next: Config): Settings {
  const explicit = next.explicit;
  if (explicit === undefined) return next.settings;
  const merged: Record<string, SettingValue | undefined> = { ...asRecord(next.settings) };
  const before = asRecord(prev.settings);
  for (const row of SETTINGS) {
    if (row.aliasOf === undefined && row.default === null && !explicit.has(row.name) && before[row.name] !== undefined) merged[row.name] = before[row.name];
  }
  // Same keys as next.settings, each with a value of its own row's type: still a Settings.
  return merged as unknown as Settings;
}

function asRecord(settings: Settings): Readonly<Record<string, SettingValue | undefined>> {
  return settings;
}
