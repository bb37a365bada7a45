// Owns the application's consistency key carried in a statement (read_your_writes = key): a
// sqlcommenter-style tag `pgmux_key='user-42'` in a /* */ comment, as ORMs and middleware that
// already add sqlcommenter tags can add one more; and the statement's text without that comment,
// which is what the classifier caches (a key per end user would otherwise make every text new).
// A statement without the tag costs one indexOf.

const TAG = 'pgmux_key=';
/** Longer keys are cut: two end users sharing a key only wait for each other's writes (the safe side). */
export const MAX_KEY_LENGTH = 200;

/** Where the comment holding the tag starts and ends (end exclusive), or null. */
function tagComment(sql: string, at: number): { open: number; close: number } | null {
  const open = sql.lastIndexOf('/*', at);
  if (open < 0) return null;
  const closeBefore = sql.indexOf('*/', open + 2);
  if (closeBefore >= 0 && closeBefore < at) return null;
  const close = sql.indexOf('*/', at);
  return close < 0 ? null : { open, close: close + 2 };
}

/** The key the statement carries, or null. Values are URL-decoded, as sqlcommenter encodes them. */
export function statementKey(sql: string): string | null {
  const at = sql.indexOf(TAG);
  if (at < 0) return null;
  const c = tagComment(sql, at);
  if (c === null) return null;
  const q = at + TAG.length;
  if (sql.charCodeAt(q) !== 39) return null; // '
  const endQuote = sql.indexOf("'", q + 1);
  if (endQuote < 0 || endQuote > c.close) return null;
  let value = sql.slice(q + 1, endQuote);
  try {
    value = decodeURIComponent(value);
  } catch {
    /* not URL-encoded: taken as written */
  }
  if (value === '') return null;
  return value.length > MAX_KEY_LENGTH ? value.slice(0, MAX_KEY_LENGTH) : value;
}

/** `sql` without the comment that carries the key (the same string when there is none). */
export function withoutKey(sql: string): string {
  const at = sql.indexOf(TAG);
  if (at < 0) return sql;
  const c = tagComment(sql, at);
  if (c === null) return sql;
  // A comment is whitespace to PostgreSQL: a blank keeps the tokens on either side apart.
  return (sql.slice(0, c.open) + ' ' + sql.slice(c.close)).trim();
}
