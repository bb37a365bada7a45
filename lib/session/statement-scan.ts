// Owns the one byte pass over a forwarded statement text that the session's watchers share: the
// words that may create server pins or release them (lib/session/pins), whether the text may
// change a setting (lib/session/setting-statements), and whether it may be a LISTEN or UNLISTEN
// (lib/session/listen-statements). Each watcher decides from the bits; nothing is decoded, and
// every Query and Parse a client in transaction pooling sends passes here once, not once per watcher.

import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';

/** What the pass found, as bits (a caller asks only for the ones it will read). */
export const Scan = {
  /** Names temp, advisory, hold or prepare somewhere (any case): the pin classifier must look. */
  MayPin: 1,
  /** Names drop, discard, close, unlock or prepared somewhere: a pinned client's server is asked what remains. */
  MayRelease: 2,
  /** Begins (it or a statement after a ';') with SET, RESET or DISCARD, or calls set_config. */
  MaySet: 4,
  /** Begins (after blanks and comments) with an l or a u: LISTEN or UNLISTEN is possible. */
  MayListen: 8,
} as const;

/** Every bit: the watchers of a client in transaction pooling. */
export const SCAN_ALL = Scan.MayPin | Scan.MayRelease | Scan.MaySet | Scan.MayListen;

/** Per byte, the bits a byte may lead to (letters that start a word, ';', '_'): one table load per byte of the text. */
const BYTE = new Uint8Array(256);
const SEMICOLON = 0x3b;
const UNDERSCORE = 0x5f;
BYTE[SEMICOLON] = Scan.MaySet;
BYTE[UNDERSCORE] = Scan.MaySet;

/**
 * Per pair of bytes (each | 0x20, the first the high byte), the bits whose words begin with that
 * pair: most letters that start a word in BYTE are ruled out here by the next byte, without a call.
 */
const PAIR = new Uint8Array(65536);

/** Lower-case ASCII words (letters only) by their first letter, as bytes. */
type WordsByLetter = readonly (readonly Buffer[])[];

function wordsByLetter(list: readonly string[], bit: number): WordsByLetter {
  // A dense array, every entry an array (no holes to deoptimize on).
  const words: Buffer[][] = Array.from({ length: 256 }, () => []);
  for (const w of list) {
    const c = w.charCodeAt(0);
    // Both cases of the letter: the scan looks bytes up as they are.
    BYTE[c] |= bit;
    BYTE[c & ~0x20] |= bit;
    PAIR[(c << 8) | w.charCodeAt(1)] |= bit;
    words[c].push(Buffer.from(w, 'latin1'));
  }
  return words;
}

const PIN_WORDS = wordsByLetter(['temp', 'advisory', 'hold', 'prepare'], Scan.MayPin);
const RELEASE_WORDS = wordsByLetter(['drop', 'discard', 'close', 'unlock', 'prepared'], Scan.MayRelease);

const ASCII_SPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) ASCII_SPACE[c] = 1;

/**
 * The bits of `want` that the SQL in buf[from, stop) has. One tight pass in plain JS (a native
 * indexOf costs more to call than this loop costs on a short text) that stops at a byte only
 * when the table says it may start something still wanted, and ends early once all is found.
 */
export function scanStatement(buf: Buffer, from: number, stop: number, want: number): number {
  let found = 0;
  if ((want & (Scan.MaySet | Scan.MayListen)) !== 0) {
    const lead = skipBlanks(buf, from, stop);
    if ((want & Scan.MaySet) !== 0 && settingWordAt(buf, lead, stop)) found |= Scan.MaySet;
    if ((want & Scan.MayListen) !== 0 && listenLetterAt(buf, from, stop)) found |= Scan.MayListen;
  }
  let pending = want & ~found & (Scan.MayPin | Scan.MayRelease | Scan.MaySet);
  for (let i = from; i < stop && pending !== 0; i++) {
    const b = buf[i];
    let bits = BYTE[b] & pending;
    if (bits === 0) continue;
    // A letter: the next byte must go on one of its words (';' and '_' have no pair and keep MaySet).
    if ((bits & (Scan.MayPin | Scan.MayRelease)) !== 0) bits &= PAIR[((b | 0x20) << 8) | (buf[i + 1] | 0x20)] | Scan.MaySet;
    if (bits === 0) continue;
    if ((bits & Scan.MaySet) !== 0) {
      // The first word of each later statement (BEGIN; SET ...; COMMIT); a ';' in a string only costs a parse.
      if (b === SEMICOLON ? settingWordAt(buf, skipBlanks(buf, i + 1, stop), stop) : b === UNDERSCORE && i >= from + 3 && i + 7 <= stop && matchesAt(buf, i - 3, 'set_config')) {
        found |= Scan.MaySet;
        pending &= ~Scan.MaySet;
      }
    }
    if ((bits & Scan.MayPin) !== 0 && wordAt(buf, i, stop, PIN_WORDS[b | 0x20])) {
      found |= Scan.MayPin;
      pending &= ~Scan.MayPin;
    }
    if ((bits & Scan.MayRelease) !== 0 && wordAt(buf, i, stop, RELEASE_WORDS[b | 0x20])) {
      found |= Scan.MayRelease;
      pending &= ~Scan.MayRelease;
    }
  }
  return found;
}

/**
 * A Query or Parse frame's statement text, read once per frame for every watcher: where the text
 * is, the statement's name, and what the scan found. One per client connection, refilled per frame.
 */
export class StatementText {
  /** False when the frame is malformed (a Parse without the NUL after its name): no watcher looks at it. */
  valid = false;
  /** The Parse's statement name ('' for the unnamed statement and for a Query). */
  name = '';
  from = 0;
  stop = 0;
  /** Bits of Scan. */
  scan = 0;

  /** Reads the Query or Parse frame at buf[start, end), scanning for the bits of `want`. */
  read(type: number, buf: Buffer, start: number, end: number, want: number): void {
    let from = start + HEADER_LENGTH;
    this.name = '';
    if (type === FrontendCode.Parse) {
      const nul = buf.indexOf(0, from);
      if (nul < 0 || nul >= end) {
        this.valid = false;
        this.scan = 0;
        return;
      }
      if (nul > from) this.name = buf.toString('utf8', from, nul);
      from = nul + 1;
    }
    // A Query's text ends at the frame's final NUL (no native indexOf call for it); a Parse's at the NUL before its parameter types.
    const nul = type === FrontendCode.Query && buf[end - 1] === 0 ? end - 1 : buf.indexOf(0, from);
    const stop = nul < 0 || nul >= end ? end : nul;
    this.valid = true;
    this.from = from;
    this.stop = stop;
    this.scan = scanStatement(buf, from, stop, want);
  }
}

/** Whether one of `words` starts at i (ASCII case-insensitively: only letters map to letters under | 0x20). */
function wordAt(buf: Buffer, i: number, stop: number, words: readonly Buffer[]): boolean {
  for (let j = 0; j < words.length; j++) {
    const w = words[j];
    const n = w.length;
    if (i + n > stop) continue;
    let k = 1;
    while (k < n && (buf[i + k] | 0x20) === w[k]) k++;
    if (k === n) return true;
  }
  return false;
}

/** SET, RESET or DISCARD at i. */
function settingWordAt(buf: Buffer, i: number, end: number): boolean {
  if (i >= end) return false;
  const c = buf[i] | 0x20;
  return (c === 0x73 && word(buf, i, end, 'set')) || (c === 0x72 && word(buf, i, end, 'reset')) || (c === 0x64 && word(buf, i, end, 'discard'));
}

/**
 * An l or a u first (after spaces and comments, as lib/session/listen-statements firstKeyword
 * skips them: which then decides). Its blanks are PostgreSQL's before 16 (no vertical tab).
 */
function listenLetterAt(buf: Buffer, pos: number, end: number): boolean {
  const at = skipSpace(buf, pos, end);
  if (at >= end) return false;
  const c = buf[at];
  return c === 0x6c || c === 0x4c || c === 0x75 || c === 0x55;
}

/** Past whitespace, `-- ...` and (nested) `/* ... *\/` comments. */
export function skipSpace(buf: Buffer, pos: number, end: number): number {
  while (pos < end) {
    const c = buf[pos];
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c) pos++;
    else if (c === 0x2d && buf[pos + 1] === 0x2d) {
      while (pos < end && buf[pos] !== 0x0a) pos++;
    } else if (c === 0x2f && buf[pos + 1] === 0x2a) {
      let depth = 1;
      pos += 2;
      while (pos < end && depth > 0) {
        if (buf[pos] === 0x2f && buf[pos + 1] === 0x2a) {
          depth++;
          pos += 2;
        } else if (buf[pos] === 0x2a && buf[pos + 1] === 0x2f) {
          depth--;
          pos += 2;
        } else pos++;
      }
    } else break;
  }
  return pos;
}

function skipBlanks(buf: Buffer, i: number, end: number): number {
  for (;;) {
    while (i < end && ASCII_SPACE[buf[i]] === 1) i++;
    if (i + 1 < end && buf[i] === 0x2d && buf[i + 1] === 0x2d) {
      const nl = buf.indexOf(0x0a, i);
      i = nl < 0 || nl >= end ? end : nl + 1;
      continue;
    }
    if (i + 1 < end && buf[i] === 0x2f && buf[i + 1] === 0x2a) {
      // Comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < end && depth > 0) {
        if (buf[i] === 0x2f && buf[i + 1] === 0x2a) {
          depth++;
          i += 2;
        } else if (buf[i] === 0x2a && buf[i + 1] === 0x2f) {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    return i;
  }
}

/** `w` (lower case) at i, case-insensitively, not followed by an identifier character. */
function word(buf: Buffer, i: number, end: number, w: string): boolean {
  if (i + w.length > end || !matchesAt(buf, i, w)) return false;
  if (i + w.length === end) return true;
  const next = buf[i + w.length];
  return !(isLetter(next) || (next >= 0x30 && next <= 0x39) || next === 0x5f || next === 0x24 || next >= 0x80);
}

function matchesAt(buf: Buffer, i: number, w: string): boolean {
  for (let k = 0; k < w.length; k++) {
    const b = buf[i + k];
    const want = w.charCodeAt(k);
    if (b !== want && !(isLetter(b) && (b | 0x20) === want)) return false;
  }
  return true;
}

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}
