// Owns reading PgBouncer's auth_file (userlist.txt): user name -> secret string.
//
// Format, as PgBouncer's load_auth_file: one `"user" "secret"` per line; a `"` inside a field
// is written `""`; leading whitespace, blank lines and lines starting with ';' or '#' are
// skipped; anything after the second field is ignored (PgBouncer's auth_file may carry more
// columns). A later line for the same user replaces an earlier one. Where PgBouncer logs
// "broken auth file" and silently stops reading, we throw with the file and line instead, so
// a typo cannot quietly lock out every user below it.

import { readFileSync } from 'node:fs';

/** Reads one `"..."` field starting at `open` (the opening quote); undefined if unterminated. */
function readQuoted(line: string, open: number): { value: string; end: number } | undefined {
  let value = '';
  let i = open + 1;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '"') {
      if (line[i + 1] !== '"') return { value, end: i + 1 };
      value += '"';
      i += 2;
    } else {
      value += c;
      i += 1;
    }
  }
  return undefined;
}

/** Parses auth_file text; `file` names it in error messages (`file:line: ...`). */
export function parseUserlist(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const fail = (what: string): never => {
      throw new Error(`${file}:${n + 1}: ${what} (expected "user" "password")`);
    };
    const line = lines[n]!.replace(/\r$/, '').trimStart();
    if (line === '' || line[0] === ';' || line[0] === '#') continue;
    if (line[0] !== '"') fail('line does not start with a double-quoted user name');
    const user = readQuoted(line, 0) ?? fail('unterminated quote in the user name');
    // PgBouncer skips whatever lies between the two fields; so do we, within the line.
    const open = line.indexOf('"', user.end);
    if (open < 0) fail(`no password field for user "${user.value}"`);
    const secret = readQuoted(line, open) ?? fail(`unterminated quote in the password of user "${user.value}"`);
    users.set(user.value, secret.value);
  }
  return users;
}

/** Reads and parses an auth_file. File-system errors propagate with their path. */
export function loadUserlist(file: string): Map<string, string> {
  return parseUserlist(readFileSync(file, 'utf8'), file);
}
