// Owns SHOW CONFIG's rows (key, value, default, changeable) as PgBouncer 1.18 sends them, so
// the admin console only has to put them on the wire.

import { SETTINGS, type SettingValue, type Settings } from './settings';
import { formatSetting } from './values';

export interface ShowConfigRow {
  key: string;
  /** NULL on the wire where PgBouncer holds a NULL string (an unset key with no default). */
  value: string | null;
  default: string | null;
  changeable: 'yes' | 'no';
}

/** One row per setting, in table order; alias rows (service_name) are not shown, as in PgBouncer. */
export function showConfigRows(settings: Settings): ShowConfigRow[] {
  const values: Readonly<Record<string, SettingValue | undefined>> = settings;
  const rows: ShowConfigRow[] = [];
  for (const row of SETTINGS) {
    const value = values[row.name];
    if (row.aliasOf !== undefined || value === undefined) continue;
    // A string key PgBouncer has no default for is a NULL pointer until set, and prints as NULL.
    const isNull = row.default === null && row.type === 'string' && value === '';
    rows.push({
      key: row.name,
      value: isNull ? null : formatSetting(row, value),
      default: row.default,
      changeable: row.reloadable ? 'yes' : 'no',
    });
  }
  return rows;
}
