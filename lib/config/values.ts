// Owns turning a setting's text into its typed value and back (SHOW CONFIG style), per row type.
//
// The number rules copy what PgBouncer 1.18 (libusual cfparser) accepts, so a config it loads
// loads here: ints go through strtol(s, 0) (so unix_socket_mode = 0777 is octal), times through
// strtod as seconds stored in whole microseconds and printed with printf("%g").

import type { SettingRow, SettingValue, Settings } from './settings';
import { SETTINGS } from './settings';
import { formatLagLimit, parseLagLimit } from './routing';

/** A parsed value, or what to change. */
export type Parsed = { ok: true; value: SettingValue } | { ok: false; expected: string };

const INT_MAX = 2147483647;

/** strtol(s, &end, 0) that must consume the whole string: [+-] then 0x hex, 0 octal or decimal. */
export function parseCInt(text: string): number | undefined {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(text);
  if (m === null) return undefined;
  const [, sign, hex, oct, dec] = m;
  const n = hex !== undefined ? parseInt(hex, 16) : oct !== undefined ? parseInt(oct, 8) : parseInt(dec ?? '', 10);
  return sign === '-' ? -n : n;
}

// strtod's decimal forms; hex floats, inf and nan are left out on purpose (no sane timeout).
const SECONDS = /^\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const BOOL_WORDS: Readonly<Record<string, boolean>> = { on: true, off: false, yes: true, no: false, true: true, false: false };

type Parser = (row: SettingRow, text: string) => Parsed;

const PARSERS: Readonly<Record<SettingRow['type'], Parser>> = {
  int(row, text) {
    const min = row.min ?? 0;
    const max = row.max ?? INT_MAX;
    const n = parseCInt(text);
    if (n === undefined || n < min || n > max) return { ok: false, expected: `an integer from ${min} to ${max}` };
    return { ok: true, value: n };
  },
  bool(_row, text) {
    const word = BOOL_WORDS[text.toLowerCase()];
    if (word !== undefined) return { ok: true, value: word };
    // PgBouncer stores these as ints, so any integer is accepted and nonzero means on.
    const n = parseCInt(text);
    if (n === undefined) return { ok: false, expected: '0 or 1 (also off/on, no/yes, false/true)' };
    return { ok: true, value: n !== 0 };
  },
  string(_row, text) {
    return { ok: true, value: text };
  },
  list(_row, text) {
    return { ok: true, value: splitList(text) };
  },
  enum(row, text) {
    const values = row.values ?? [];
    const lower = text.toLowerCase();
    const hit = values.find((v) => v.toLowerCase() === lower);
    if (hit === undefined) return { ok: false, expected: `one of: ${values.join(', ')}` };
    return { ok: true, value: hit };
  },
  time(row, text) {
    const min = row.min ?? 0;
    const what = `a number of seconds >= ${min}, such as 15 or 2.5 (no units)`;
    if (!SECONDS.test(text)) return { ok: false, expected: what };
    // PgBouncer keeps whole microseconds: (usec_t)(1e6 * v). Round-trip through them so 1e-7
    // reads back as 0 there and here alike.
    const seconds = Math.trunc(Number(text) * 1e6) / 1e6;
    if (!Number.isFinite(seconds) || seconds < min || (row.max !== undefined && seconds > row.max)) {
      return { ok: false, expected: what };
    }
    return { ok: true, value: seconds };
  },
  lag(_row, text) {
    const parsed = parseLagLimit(text);
    return parsed.ok ? { ok: true, value: formatLagLimit(parsed.limit) } : parsed;
  },
};

/** Parses one setting's text (already trimmed) by its row's type. */
export function parseSettingValue(row: SettingRow, text: string): Parsed {
  return PARSERS[row.type](row, text);
}

/** Comma-separated list: items trimmed, empty items dropped ('' is the empty list). */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** C printf("%g"): 6 significant digits, exponent form below 1e-4 or from 1e6, no trailing zeros. */
export function formatG(v: number): string {
  if (v === 0) return '0';
  const [mantissa = '', expText = '0'] = v.toExponential(5).split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const digits = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${stripZeros(mantissa)}e${exp < 0 ? '-' : '+'}${digits}`;
  }
  return stripZeros(v.toFixed(5 - exp));
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A value as PgBouncer's SHOW CONFIG prints it: ints in decimal, bools 1/0, times with %g. */
export function formatSetting(row: SettingRow, value: SettingValue): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') return row.type === 'time' ? formatG(value) : String(value);
  return value;
}

/**
 * The value a row starts at: its default parsed, or for rows PgBouncer gives no default, the
 * type's empty value ('' / 0 / false / []), which is what PgBouncer's zeroed globals hold.
 */
export function defaultValue(row: SettingRow): SettingValue {
  if (row.default === null) return emptyValue(row);
  const parsed = parseSettingValue(row, row.default);
  if (!parsed.ok) throw new Error(`settings table: default of ${row.name} does not parse`);
  return parsed.value;
}

function emptyValue(row: SettingRow): SettingValue {
  const empty: Readonly<Record<SettingRow['type'], SettingValue>> = {
    int: 0,
    time: 0,
    bool: false,
    list: [],
    string: '',
    enum: row.values?.[0] ?? '',
    lag: '0',
  };
  return empty[row.type];
}

/** A fresh settings object holding every default (alias rows have no value of their own). */
export function defaultSettings(): Settings {
  const out: Record<string, SettingValue> = {};
  for (const row of SETTINGS) if (row.aliasOf === undefined) out[row.name] = defaultValue(row);
  // The one place a name-keyed record becomes the typed view: every non-alias row was filled
  // above by its own row's parser, which is exactly what the mapped Settings type describes.
  return out as unknown as Settings;
}
