// Owns reading PgBouncer's ini dialect: sections, "name = value" lines, comments and %include,
// reported line by line to a handler with "file:line". It knows nothing about what keys mean.
//
// The grammar is libusual's parse_ini_file as PgBouncer 1.18 ships it, not the npm `ini` one:
//  - A comment is a line whose first non-blank character is ';' or '#'. Nowhere else is either
//    special: `password = it;s#x` keeps every character (npm `ini` would cut it at ';').
//  - A value is everything after '=' to the end of the line, blanks around it trimmed, no quoting,
//    no escapes, no type coercion.
//  - Names are made of letters, digits and _ . - * (so "*" works as a database name); section
//    and setting names are case-sensitive.
//  - A section header may be followed on the same line by a comment (or, rarely, an entry).
//  - "%include file" reads another file in place, sharing the current section both ways; nested
//    includes may go 10 deep.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors';

export interface IniHandler {
  /** A "[name]" header. */
  section(name: string, source: string): void;
  /** A "key = value" line; value is trimmed and otherwise verbatim. */
  entry(key: string, value: string, source: string): void;
}

/** How deep %include may nest below the main file (libusual's MAX_INCLUDE). */
export const MAX_INCLUDE_DEPTH = 10;

const NAME = /^[A-Za-z0-9_.*-]*/;
const AFTER_NAME = /^[ \t]*=[ \t]*/;
const INCLUDE = /^%include[ \t]/;

/** Reads `file` (and what it includes), calling `handler` in file order. Throws ConfigError. */
export function readIni(file: string, handler: IniHandler): void {
  const text = readText(file);
  if (typeof text !== 'string') throw new ConfigError(file, `cannot read config file: ${text.reason}`);
  readLines(text, file, handler, 0);
}

function readText(file: string): string | { reason: string } {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.startsWith('\uFEFF') ? text.slice(1) : text;
  } catch (err) {
    return { reason: reason(err) };
  }
}

function readLines(text: string, file: string, handler: IniHandler, depth: number): void {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    readLine(lines[i] ?? '', `${file}:${i + 1}`, file, handler, depth);
  }
}

function readLine(line: string, source: string, file: string, handler: IniHandler, depth: number): void {
  let rest = line;
  for (;;) {
    rest = rest.trimStart();
    if (rest === '') return;
    if (INCLUDE.test(rest)) {
      include(rest.slice('%include'.length).trim(), source, file, handler, depth);
      return;
    }
    if (rest.startsWith(';') || rest.startsWith('#')) return;
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0) throw new ConfigError(source, 'syntax error: section header has no closing "]"');
      handler.section(rest.slice(1, close), source);
      rest = rest.slice(close + 1);
      continue;
    }
    const key = NAME.exec(rest)?.[0] ?? '';
    const afterKey = rest.slice(key.length);
    const eq = AFTER_NAME.exec(afterKey);
    if (eq === null) throw new ConfigError(source, syntaxHint(rest, key));
    if (key === '') throw new ConfigError(source, 'syntax error: nothing left of "="; write "name = value"');
    handler.entry(key, afterKey.slice(eq[0].length).trimEnd(), source);
    return;
  }
}

function syntaxHint(rest: string, key: string): string {
  if (rest.startsWith('%include')) return 'syntax error: %include needs a file name after a space';
  if (rest.startsWith('%')) return 'syntax error: the only directive is "%include file" (lower case)';
  if (!rest.includes('=')) {
    return 'syntax error: expected "name = value", "[section]", "%include file" or a comment starting with ; or #';
  }
  const bad = rest.charAt(key.length);
  return (
    `syntax error: ${JSON.stringify(bad)} cannot appear in a name; names left of "=" may contain only ` +
    'letters, digits and _ . - * (quoted names are not supported)'
  );
}

function include(name: string, source: string, file: string, handler: IniHandler, depth: number): void {
  if (name === '') throw new ConfigError(source, 'syntax error: %include needs a file name');
  if (depth >= MAX_INCLUDE_DEPTH) {
    throw new ConfigError(
      source,
      `%include nested more than ${MAX_INCLUDE_DEPTH} deep; look for a file that includes itself`,
    );
  }
  const candidates = includeCandidates(name, file);
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) {
    const where = candidates.length > 1 ? ` (looked at ${candidates.join(' and ')})` : '';
    throw new ConfigError(source, `cannot read %include file "${name}": no such file${where}`);
  }
  const text = readText(found);
  if (typeof text !== 'string') throw new ConfigError(source, `cannot read %include file "${name}": ${text.reason}`);
  readLines(text, found, handler, depth + 1);
}

/**
 * Where a relative %include may live: next to the including file first, as the project asks,
 * then the current directory, which is where PgBouncer 1.18 looks (it passes the name to open()
 * as written), so configs written for PgBouncer keep loading.
 */
function includeCandidates(name: string, file: string): string[] {
  if (path.isAbsolute(name)) return [name];
  const beside = path.resolve(path.dirname(file), name);
  const cwd = path.resolve(name);
  return beside === cwd ? [beside] : [beside, cwd];
}

function reason(err: unknown): string {
  // Duck-typed: errors from node:fs may come from another realm (jest's sandbox), where
  // instanceof Error is false.
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const known: Readonly<Record<string, string>> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };
  return known[code] ?? (err instanceof Error ? err.message : String(err));
}
