// Promises the code must keep (issue 11, item 10): a setting marked supported is read somewhere
// in lib/ (or says, in its row's `inert`, why every value of it already holds), and every refusal
// constructor in lib/protocol/refusals.ts is used somewhere in lib/. Otherwise the README's "a
// key pgmux does not act on is accepted only at its default" and the one-table refusals drift
// into settings nothing honours and texts nothing sends, pinned by specs of their own.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SETTINGS } from '../../lib/config/settings';
import * as refusals from '../../lib/protocol/refusals';

const LIB = join(__dirname, '..', '..', 'lib');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Source without comments, so a name mentioned in prose does not count as a use. */
function code(path: string): string {
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const SOURCES = tsFiles(LIB).map((path) => ({ file: relative(LIB, path), text: code(path) }));

/**
 * Where lib/ (the table itself aside) reads setting `name`: a property read (`settings.name`,
 * `s.name`, not an assignment) or the name as a string other than as a key being set.
 */
function readersOf(name: string): string[] {
  const property = new RegExp(`\\.${name}\\b(?!\\s*=[^=>])`);
  const literal = new RegExp(`(?<!\\.set\\()'${name}'`);
  return SOURCES.filter((s) => s.file !== join('config', 'settings.ts') && (property.test(s.text) || literal.test(s.text))).map((s) => s.file);
}

describe('settings marked supported', () => {
  const rows = SETTINGS.filter((r) => r.supported && r.aliasOf === undefined);

  it.each(rows.filter((r) => r.inert === undefined).map((r) => [r.name]))('%s is read in lib/', (name) => {
    expect(readersOf(name)).not.toEqual([]);
  });

  /** An inert row must say why, and must really be read nowhere (else the note is stale). */
  it.each(rows.filter((r) => r.inert !== undefined).map((r) => [r.name, r.inert!]))('%s is inert: %s', (name, why) => {
    expect(why.length).toBeGreaterThan(20);
    expect(readersOf(name)).toEqual([]);
  });
});

describe('refusal constructors', () => {
  const names = Object.keys(refusals);

  it.each(names.map((n) => [n]))('refusals.%s is used in lib/', (name) => {
    const use = new RegExp(`\\brefusals\\.${name}\\b`);
    const users = SOURCES.filter((s) => s.file !== join('protocol', 'refusals.ts') && use.test(s.text)).map((s) => s.file);
    expect(users).not.toEqual([]);
  });
});
