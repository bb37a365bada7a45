// Owns auth_hba_file (auth_type = hba): PgBouncer 1.18's pg_hba.conf subset parsed into a table of rules, and the first rule matching a login.
//
// What PgBouncer's hba.c takes, and so what is taken here (checked against the 1.18 binary):
//   local      DATABASES USERS                  METHOD
//   host       DATABASES USERS ADDRESS/BITS     METHOD      (also hostssl, hostnossl)
//   host       DATABASES USERS ADDRESS MASK     METHOD
// DATABASES and USERS are comma-separated lists of `all`, `sameuser` (the other column's value;
// PgBouncer reads both columns with the same code, so in the user column it means "the user is
// named like the database"), names (double quotes keep a keyword literal: "all" is a name) and
// @file (names read from a file next to the hba file). ADDRESS is numeric IPv4 or IPv6, MASK
// an address of the same family. METHOD is trust, reject, md5, password, scram-sha-256, cert
// or peer, with no options after it. `#` starts a comment.
//
// Where PgBouncer logs a warning and skips a line it cannot parse, this throws with file:line
// instead (as the auth_file loader does): a skipped `reject` line would quietly open access.
// PgBouncer's quirks kept on purpose, since a rule must mean what it meant under PgBouncer:
// keywords are case-sensitive; an address with host bits outside its mask (10.0.0.1/8) never
// matches (PgBouncer warns about it, and so do we); a non-contiguous MASK is allowed.
// Matching is first line wins; no matching line means reject.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isIP } from 'node:net';

export type HbaConnType = 'local' | 'host' | 'hostssl' | 'hostnossl';
export type HbaMethod = 'trust' | 'reject' | 'md5' | 'password' | 'scram-sha-256' | 'cert' | 'peer';

/** A DATABASES or USERS column. */
export interface HbaNames {
  readonly all: boolean;
  /** `sameuser`: matches when the name equals the other column's value (database vs user). */
  readonly same: boolean;
  readonly names: ReadonlySet<string>;
}

/** An address column: the rule matches a client whose address ANDed with `mask` is `addr`. */
export interface HbaNet {
  readonly family: 4 | 6;
  readonly addr: Buffer;
  readonly mask: Buffer;
}

export interface HbaRule {
  /** "file:line", for logs. */
  readonly source: string;
  readonly type: HbaConnType;
  readonly databases: HbaNames;
  readonly users: HbaNames;
  /** null for `local`. */
  readonly net: HbaNet | null;
  readonly method: HbaMethod;
}

export interface HbaTable {
  readonly file: string;
  readonly rules: readonly HbaRule[];
  /** Lines that parse but cannot do what they seem to (PgBouncer warns about the same). */
  readonly warnings: readonly string[];
}

/** Who is logging in, as far as hba rules care. */
export interface HbaLogin {
  /** The client's IP address as the socket reports it; null for a Unix socket. */
  readonly address: string | null;
  readonly tls: boolean;
  readonly database: string;
  readonly user: string;
}

/** The auth_type each hba method stands for; reject, cert and peer are decided by the caller. */
export const HBA_AUTH_TYPE: Readonly<Record<HbaMethod, string>> = {
  trust: 'trust',
  reject: 'reject',
  md5: 'md5',
  password: 'plain',
  'scram-sha-256': 'scram-sha-256',
  cert: 'cert',
  peer: 'peer',
};

const CONN_TYPES: readonly string[] = ['local', 'host', 'hostssl', 'hostnossl'];
const METHODS: readonly string[] = Object.keys(HBA_AUTH_TYPE);
/** Keywords of PostgreSQL's pg_hba.conf that PgBouncer refuses in a name list. */
const UNSUPPORTED_NAMES: readonly string[] = ['samerole', 'samegroup', 'replication'];
/** @file inside @file: deep enough for any real layout, bounded against a file including itself. */
const MAX_INCLUDE_DEPTH = 10;

export class HbaError extends Error {
  override readonly name = 'HbaError';
}

// ---- tokens (PgBouncer's next_token) ----

type Token = { kind: 'ident' | 'string'; text: string } | { kind: 'comma' };

/**
 * Splits one line into tokens up to its end or a `#`. An identifier ends at whitespace, a comma,
 * `#` or `"`; a quoted string is a name whatever it says, `""` inside standing for `"`.
 */
function tokenize(line: string, fail: (what: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length || line[i] === '#') return tokens;
    const c = line[i]!;
    if (c === ',') {
      tokens.push({ kind: 'comma' });
      i++;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= line.length) fail('unterminated quoted name');
        if (line[j] === '"') {
          if (line[j + 1] !== '"') break;
          j++;
        }
        text += line[j];
        j++;
      }
      tokens.push({ kind: 'string', text });
      i = j + 1;
    } else {
      let j = i + 1;
      while (j < line.length && !/[\s,#"]/.test(line[j]!)) j++;
      tokens.push({ kind: 'ident', text: line.slice(i, j) });
      i = j;
    }
  }
}

/** A cursor over one line's tokens. */
class Tokens {
  private pos = 0;
  constructor(private readonly list: Token[]) {}

  get atEnd(): boolean {
    return this.pos >= this.list.length;
  }

  peek(): Token | undefined {
    return this.list[this.pos];
  }

  next(): Token | undefined {
    return this.list[this.pos++];
  }

  /** Consumes an unquoted word and returns it; undefined (nothing consumed) if the next token is not one. */
  ident(): string | undefined {
    const t = this.list[this.pos];
    if (t?.kind !== 'ident') return undefined;
    this.pos++;
    return t.text;
  }

  eatComma(): boolean {
    if (this.list[this.pos]?.kind !== 'comma') return false;
    this.pos++;
    return true;
  }
}

// ---- names ----

interface NamesBuilder {
  all: boolean;
  same: boolean;
  names: Set<string>;
}

/** Reads a names file; relative paths are taken from the directory of the file naming it. */
type ReadFile = (path: string) => string;

/** One column's comma-separated list (PgBouncer's parse_names). */
function parseNames(out: NamesBuilder, tokens: Tokens, ctx: ParseContext, fail: (what: string) => never): void {
  do {
    const t = tokens.next();
    if (t === undefined || t.kind === 'comma') fail('expected a database or user name');
    if (t.kind === 'string') {
      out.names.add(t.text);
      continue;
    }
    const word = t.text;
    if (word === 'all') out.all = true;
    else if (word === 'sameuser') out.same = true;
    else if (UNSUPPORTED_NAMES.includes(word)) fail(`${word} is not supported`);
    else if (word.startsWith('+')) fail(`group membership (${word}) is not supported`);
    else if (word.startsWith('@')) readNamesFile(out, word.slice(1), ctx, fail);
    else out.names.add(word);
  } while (tokens.eatComma());
}

/**
 * @file: each line a comma-separated list. PgBouncer silently drops what follows a space on such
 * a line and fails the whole rule on a blank one; here blank and `#` lines are skipped and
 * anything else left over is an error, so no name is lost without a word.
 */
function readNamesFile(out: NamesBuilder, name: string, ctx: ParseContext, fail: (what: string) => never): void {
  if (name === '') fail('@ without a file name');
  if (ctx.depth >= MAX_INCLUDE_DEPTH) fail(`@${name}: names files nested more than ${MAX_INCLUDE_DEPTH} deep`);
  const path = isAbsolute(name) ? name : join(dirname(ctx.file), name);
  let text: string;
  try {
    text = ctx.readFile(path);
  } catch (err) {
    fail(`cannot read names file ${path}: ${(err as Error).message}`);
  }
  const inner: ParseContext = { ...ctx, file: path, depth: ctx.depth + 1 };
  text.split('\n').forEach((raw, n) => {
    const innerFail = (what: string): never => {
      throw new HbaError(`${path}:${n + 1}: ${what}`);
    };
    const tokens = new Tokens(tokenize(raw.replace(/\r$/, ''), innerFail));
    if (tokens.atEnd) return;
    parseNames(out, tokens, inner, innerFail);
    if (!tokens.atEnd) innerFail('expected one name or a comma-separated list of names per line');
  });
}

function freeze(b: NamesBuilder): HbaNames {
  return { all: b.all, same: b.same, names: b.names };
}

// ---- addresses ----

/** IPv4 or IPv6 text to bytes, as inet_pton: numeric only, no zone id; undefined if invalid. */
export function addressBytes(text: string): { family: 4 | 6; bytes: Buffer } | undefined {
  const family = isIP(text);
  if (family === 4) return { family, bytes: Buffer.from(text.split('.').map(Number)) };
  if (family !== 6 || text.includes('%')) return undefined;
  return { family, bytes: ipv6Bytes(text) };
}

/** Bytes of a valid IPv6 address (net.isIP checked it): groups around one `::`, maybe an IPv4 tail. */
function ipv6Bytes(text: string): Buffer {
  const out = Buffer.alloc(16);
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const words: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        words.push((a << 8) | b, (c << 8) | d);
      } else words.push(parseInt(g, 16));
    }
    return words;
  };
  const gap = text.indexOf('::');
  const head = groups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : groups(text.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** A prefix length as a mask; undefined unless plain decimal digits within the family's width. */
function prefixMask(bits: string, family: 4 | 6): Buffer | undefined {
  const width = family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > width) return undefined;
  const mask = Buffer.alloc(width / 8);
  let n = Number(bits);
  for (let i = 0; n > 0; i++, n -= 8) mask[i] = n >= 8 ? 0xff : (0xff << (8 - n)) & 0xff;
  return mask;
}

function formatAddress(family: 4 | 6, bytes: Buffer): string {
  if (family === 4) return [...bytes].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
  return words.join(':');
}

// ---- lines ----

interface ParseContext {
  /** The file being read, for @file paths. */
  readonly file: string;
  readonly readFile: ReadFile;
  readonly depth: number;
}

function parseLine(line: string, source: string, ctx: ParseContext, warnings: string[]): HbaRule | null {
  const fail = (what: string): never => {
    throw new HbaError(`${source}: ${what}`);
  };
  const tokens = new Tokens(tokenize(line, fail));
  if (tokens.atEnd) return null;
  const type = tokens.ident();
  if (type === undefined || !CONN_TYPES.includes(type)) {
    fail(`unknown connection type "${describe(type ?? tokens.peek())}"; pgmux and PgBouncer take ${CONN_TYPES.join(', ')}`);
  }
  const databases: NamesBuilder = { all: false, same: false, names: new Set() };
  const users: NamesBuilder = { all: false, same: false, names: new Set() };
  parseNames(databases, tokens, ctx, fail);
  parseNames(users, tokens, ctx, fail);
  const net = type === 'local' ? null : parseNet(tokens, source, fail, warnings);
  const method = tokens.ident();
  if (method === undefined || !METHODS.includes(method)) {
    fail(`unsupported method "${describe(method ?? tokens.peek())}"; use one of ${METHODS.join(', ')}`);
  }
  if (!tokens.atEnd) fail(`options after the method are not supported (PgBouncer takes none)`);
  return {
    source,
    type: type as HbaConnType,
    databases: freeze(databases),
    users: freeze(users),
    net,
    method: method as HbaMethod,
  };
}

function parseNet(tokens: Tokens, source: string, fail: (what: string) => never, warnings: string[]): HbaNet {
  const text = tokens.ident() ?? fail('expected a numeric IP address (host names, all, samehost and samenet are not supported)');
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = addressBytes(addrText) ?? fail(`cannot parse address "${addrText}": use a numeric IPv4 or IPv6 address`);
  let mask: Buffer;
  if (slash >= 0) {
    mask = prefixMask(text.slice(slash + 1), addr.family) ?? fail(`invalid mask "${text.slice(slash + 1)}" for address ${addrText}`);
  } else {
    const maskText = tokens.ident() ?? fail(`no mask after address ${addrText}: write ${addrText}/bits or ${addrText} followed by a mask`);
    const m = addressBytes(maskText);
    if (m?.family !== addr.family) fail(`cannot parse mask "${maskText}" as an IPv${addr.family} address`);
    mask = m.bytes;
  }
  if (addr.bytes.some((b, i) => (b & ~mask[i]!) !== 0)) {
    warnings.push(
      `address does not match mask in ${source}: ${formatAddress(addr.family, addr.bytes)} / ${formatAddress(addr.family, mask)}; ` +
        'this rule matches no client (as in PgBouncer)',
    );
  }
  return { family: addr.family, addr: addr.bytes, mask };
}

function describe(t: string | Token | undefined): string {
  if (t === undefined) return '(end of line)';
  if (typeof t === 'string') return t;
  return t.kind === 'comma' ? ',' : t.text;
}

/** Parses hba text; `file` names it in errors and anchors relative @file paths. Throws HbaError. */
export function parseHba(text: string, file: string, readFile: ReadFile = (p) => readFileSync(p, 'utf8')): HbaTable {
  const rules: HbaRule[] = [];
  const warnings: string[] = [];
  const ctx: ParseContext = { file, readFile, depth: 0 };
  text.split('\n').forEach((raw, n) => {
    const rule = parseLine(raw.replace(/\r$/, ''), `${file}:${n + 1}`, ctx, warnings);
    if (rule !== null) rules.push(rule);
  });
  return { file, rules, warnings };
}

/** Reads and parses auth_hba_file. */
export function loadHba(file: string): HbaTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HbaError(`cannot read auth_hba_file ${file}: ${(err as Error).message}`);
  }
  return parseHba(text, file);
}

// ---- matching (PgBouncer's hba_eval) ----

function namesMatch(n: HbaNames, name: string, other: string): boolean {
  return n.all || (n.same && name === other) || n.names.has(name);
}

/** A client address as bytes; IPv4-mapped IPv6 (a dual-stack listener's view of IPv4) as IPv4. */
function clientBytes(address: string): { family: 4 | 6; bytes: Buffer } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return addressBytes(mapped !== null ? mapped[1]! : address);
}

function netMatches(net: HbaNet, client: { family: 4 | 6; bytes: Buffer }): boolean {
  if (net.family !== client.family) return false;
  for (let i = 0; i < net.addr.length; i++) if ((client.bytes[i]! & net.mask[i]!) !== net.addr[i]) return false;
  return true;
}

/** The first rule that matches the login, or undefined (which means reject). */
export function matchHba(table: HbaTable, login: HbaLogin): HbaRule | undefined {
  const address = login.address;
  const client = address === null ? null : clientBytes(address);
  for (const rule of table.rules) {
    if (client === null) {
      if (rule.type !== 'local') continue;
    } else {
      if (rule.type === 'local' || client === undefined) continue;
      if (rule.type === 'hostssl' && !login.tls) continue;
      if (rule.type === 'hostnossl' && login.tls) continue;
      if (!netMatches(rule.net as HbaNet, client)) continue;
    }
    if (!namesMatch(rule.databases, login.database, login.user)) continue;
    if (!namesMatch(rule.users, login.user, login.database)) continue;
    return rule;
  }
  return undefined;
}
