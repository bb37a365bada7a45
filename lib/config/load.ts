// Owns loadConfig: reads the ini, routes each line to its section, checks every value against
// the settings table, and refuses what pgmux cannot honour yet. Everything it rejects is a
// ConfigError that says "file:line: what to change".

import { readIni, type IniHandler } from './ini';
import { ConfigError } from './errors';
import { parseDatabase, parseUser } from './connstring';
import { findSetting, SETTINGS, type SettingRow, type SettingValue, type Settings } from './settings';
import { defaultValue, formatSetting, parseSettingValue } from './values';
import type { Config, DatabaseDef, UserDef } from './types';
import { parseRule, rulesSettingsProblem, type RuleDef } from './rules';
import { parsePeer, type PeerDef } from './peers';

/** Reads a PgBouncer 1.18 config file (and its %includes). Throws ConfigError. */
export function loadConfig(file: string): Config {
  const loader = new Loader(file);
  readIni(file, loader);
  return loader.finish();
}

type Section = 'pgbouncer' | 'databases' | 'users' | 'rules' | 'peers';

/** [rules] is pgmux's own (PgBouncer refuses it: keep it in a file only pgmux reads, see README). */
const SECTIONS: readonly Section[] = ['databases', 'users', 'pgbouncer', 'rules', 'peers'];

class Loader implements IniHandler {
  private current: Section | undefined;
  private sawMain = false;
  private readonly values = new Map<string, SettingValue>();
  /** Where each setting got its current value, for errors found after the whole file is read. */
  private readonly sources = new Map<string, string>();
  private readonly databases = new Map<string, DatabaseDef>();
  private readonly users = new Map<string, UserDef>();
  private readonly rules: RuleDef[] = [];
  private readonly peers = new Map<number, PeerDef>();

  constructor(private readonly file: string) {
    for (const row of SETTINGS) if (row.aliasOf === undefined) this.values.set(row.name, defaultValue(row));
    // PgBouncer starts conffile as the path from the command line; the file may override it.
    this.values.set('conffile', file);
  }

  section(name: string, source: string): void {
    const known = SECTIONS.find((s) => s === name);
    if (known === undefined) throw new ConfigError(source, unknownSection(name));
    this.current = known;
    if (known === 'pgbouncer') {
      this.sawMain = true;
      this.fillDefaults();
    }
  }

  entry(key: string, value: string, source: string): void {
    switch (this.current) {
      case undefined:
        throw new ConfigError(source, `"${key}" comes before any section; put it under [pgbouncer], [databases], [users], [peers] or [rules]`);
      case 'pgbouncer':
        return this.setting(key, value, source);
      case 'databases':
        misplacedSetting(key, value, 'databases', source);
        this.databases.set(key, parseDatabase(key, value, source));
        return;
      case 'users':
        misplacedSetting(key, value, 'users', source);
        this.users.set(key, parseUser(key, value, source));
        return;
      case 'peers': {
        const peer = parsePeer(key, value, source);
        this.peers.set(peer.id, peer);
        return;
      }
      case 'rules': {
        const twin = this.rules.find((r) => r.name === key);
        if (twin !== undefined) throw new ConfigError(source, `rule ${key} is already defined at ${twin.source}; give each rule its own name`);
        this.rules.push(parseRule(key, value, source));
        return;
      }
    }
  }

  finish(): Config {
    if (!this.sawMain) {
      throw new ConfigError(this.file, 'no [pgbouncer] section; PgBouncer requires one (it may be empty)');
    }
    const out: Record<string, SettingValue> = {};
    for (const row of SETTINGS) {
      if (row.aliasOf !== undefined) continue;
      const value = this.values.get(row.name) ?? defaultValue(row);
      this.checkSupported(row, value);
      out[row.name] = value;
    }
    // The one place the name-keyed record becomes the typed view: every non-alias row was set
    // above from its own row's parser, which is exactly what the mapped Settings type says.
    const settings = out as unknown as Settings;
    // Rules run by order, then as written (sort is stable).
    const rules = [...this.rules].sort((a, b) => a.order - b.order);
    const problem = rulesSettingsProblem(rules, settings.result_cache_size);
    if (problem !== null) throw problem;
    return { file: this.file, settings, databases: this.databases, users: this.users, rules, peers: this.peers, explicit: new Set(this.sources.keys()) };
  }

  private setting(key: string, text: string, source: string): void {
    const named = findSetting(key);
    if (named === undefined) throw new ConfigError(source, unknownSetting(key));
    const row = named.aliasOf === undefined ? named : findSetting(named.aliasOf);
    if (row === undefined) throw new Error(`settings table: ${key} is an alias of a missing row`);
    const parsed = parseSettingValue(row, text);
    if (!parsed.ok) throw new ConfigError(source, `${key} = "${text}" is not valid; expected ${parsed.expected}`);
    this.values.set(row.name, parsed.value);
    this.sources.set(row.name, source);
  }

  /**
   * Every [pgbouncer] header resets the settings PgBouncer has a default for, as its loader
   * does (fill_defaults per header): a second [pgbouncer] section, e.g. in an %include, starts
   * from defaults again. Keys without a PgBouncer default (auth_file, verbose, ...) are kept.
   */
  private fillDefaults(): void {
    for (const row of SETTINGS) {
      if (row.aliasOf !== undefined || row.default === null) continue;
      this.values.set(row.name, defaultValue(row));
      this.sources.delete(row.name);
    }
  }

  private checkSupported(row: SettingRow, value: SettingValue): void {
    const source = this.sources.get(row.name);
    if (source === undefined) return;
    if (!row.supported && formatSetting(row, value) !== formatSetting(row, defaultValue(row))) {
      throw new ConfigError(source, `${row.name} is not supported by pgmux yet`);
    }
    const allowed = row.supportedValues;
    if (allowed !== undefined && typeof value === 'string' && !allowed.includes(value)) {
      throw new ConfigError(source, `${row.name} = ${value} is not supported by pgmux yet; use one of: ${allowed.join(', ')}`);
    }
  }
}

function unknownSection(name: string): string {
  const hit = SECTIONS.find((s) => s === name.trim().toLowerCase());
  if (hit !== undefined) return `unknown section [${name}]; section names are case-sensitive and unpadded: write [${hit}]`;
  return `unknown section [${name}]; PgBouncer 1.18 has only [databases], [users] and [pgbouncer], PgBouncer 1.19 adds [peers] and pgmux adds [rules]`;
}

function unknownSetting(key: string): string {
  const names = SETTINGS.map((r) => r.name);
  const exact = names.find((n) => n === key.toLowerCase());
  if (exact !== undefined) return `unknown setting "${key}"; setting names are case-sensitive: write ${exact}`;
  let best: string | undefined;
  let bestDistance = 3;
  for (const n of names) {
    const d = editDistance(key, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  const hint = best === undefined ? 'see SHOW CONFIG for the valid names' : `did you mean ${best}?`;
  return `unknown setting "${key}" in [pgbouncer]; ${hint}`;
}

/** A [pgbouncer] setting typed under [databases]/[users] usually means a missing header. */
function misplacedSetting(key: string, value: string, section: Section, source: string): void {
  if (findSetting(key) !== undefined && value !== '' && !value.includes('=')) {
    throw new ConfigError(source, `"${key}" is a [pgbouncer] setting but sits in [${section}]; add a [pgbouncer] header above it`);
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
