// Owns reading an admin console query the way PgBouncer 1.18 does (src/admin.c): three
// case-insensitive patterns, `CMD [arg][;]`, `SET key =|TO word[;]` and `SET key =|TO 'string'[;]`.
// A word is [0-9a-z_]+ or "double quoted" ("" for a quote); anything else is an invalid command.

const WS0 = '[ \\t\\n\\r]*';
const WS1 = '[ \\t\\n\\r]+';
const WORD = '("(?:[^"]|"")*"|[0-9a-z_]+)';
const STRING = "('(?:[^']|'')*')";
const END = `${WS0}(?:;${WS0})?$`;

const CMD = new RegExp(`^${WS0}${WORD}(?:${WS1}${WORD})?${END}`, 'i');
const SET_WORD = new RegExp(`^${WS0}set${WS1}${WORD}${WS0}(?:=|to)${WS0}${WORD}${END}`, 'i');
const SET_STRING = new RegExp(`^${WS0}set${WS1}${WORD}${WS0}(?:=|to)${WS0}${STRING}${END}`, 'i');

/** PgBouncer copies into fixed buffers: longer words are "bad arguments". */
const MAX_CMD = 15;
const MAX_ARG = 63;
const MAX_VALUE = 255;

export type ParsedCommand =
  | { kind: 'command'; verb: string; arg: string }
  | { kind: 'set'; key: string; value: string }
  | { kind: 'invalid' }
  | { kind: 'bad-arguments' };

export function parseCommand(query: string): ParsedCommand {
  let m = CMD.exec(query);
  if (m !== null) {
    const verb = unquote(m[1], '"', MAX_CMD);
    const arg = m[2] === undefined ? '' : unquote(m[2], '"', MAX_ARG);
    if (verb === null || arg === null) return { kind: 'bad-arguments' };
    return { kind: 'command', verb, arg };
  }
  m = SET_STRING.exec(query) ?? SET_WORD.exec(query);
  if (m !== null) {
    const key = unquote(m[1], '"', MAX_ARG);
    const value = unquote(m[2], m[2].startsWith("'") ? "'" : '"', MAX_VALUE);
    if (key === null || key === '' || value === null) return { kind: 'bad-arguments' };
    return { kind: 'set', key, value };
  }
  return { kind: 'invalid' };
}

/** PgBouncer's copy_arg: strips the quotes and undoubles inner ones; null when too long. */
function unquote(raw: string, quote: string, max: number): string | null {
  if (Buffer.byteLength(raw) > max) return null;
  if (!raw.startsWith(quote)) return raw;
  return raw.slice(1, -1).split(quote + quote).join(quote);
}
