// Owns password normalisation before PBKDF2 (SASLprep, RFC 4013), the lenient way PostgreSQL does it.
//
// PostgreSQL (server and libpq) runs SASLprep and, when the result would be an error (prohibited
// character), hashes the raw password instead. An ASCII password is therefore always used as is:
// printable ASCII is unchanged by SASLprep, and ASCII control characters are prohibited, which
// again means "use it raw". That fast path covers almost every real password.
//
// For non-ASCII we apply the steps that change bytes (map non-ASCII spaces to ' ', drop
// "commonly mapped to nothing" characters, NFKC) and fall back to the raw string on a prohibited
// character; an unpaired surrogate counts as one (PROHIBITED is a 'u' regex, where the surrogate
// range only matches unpaired halves). Not done: the check for code points unassigned in
// Unicode 3.2 and the bidi rule, which in PostgreSQL also send the password down the raw path.
// JavaScript has no Unicode 3.2 tables, so a password mixing, say, an emoji with a character
// that NFKC changes may hash differently from PostgreSQL; such a user should keep a SCRAM
// secret (not plain text) in auth_file.

const ASCII = /^[\x00-\x7f]*$/;

/** RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020. */
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g;

/** RFC 3454 B.1: commonly mapped to nothing. */
const MAPPED_TO_NOTHING = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/gu;

/**
 * RFC 4013 section 2.3 prohibited output: ASCII and non-ASCII controls (C.2.1, C.2.2), private
 * use (C.3), non-characters (C.4), surrogates (C.5), inappropriate for plain text (C.6) and for
 * canonical representation (C.7), change-display properties (C.8), tagging (C.9).
 */
const PROHIBITED = new RegExp(
  [
    '[\\u0000-\\u001f\\u007f-\\u009f\\u0340\\u0341\\u06dd\\u070f\\u180e\\u200c-\\u200f',
    '\\u2028-\\u202e\\u2060-\\u2063\\u206a-\\u206f\\u2ff0-\\u2ffb\\ud800-\\udfff\\ue000-\\uf8ff',
    '\\ufdd0-\\ufdef\\ufeff\\ufff9-\\ufffd\\ufffe\\uffff]',
    '|[\\u{1d173}-\\u{1d17a}\\u{e0001}\\u{e0020}-\\u{e007f}\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}]',
    // The last two code points of every plane are non-characters (C.4).
    '|[\\u{1fffe}\\u{1ffff}\\u{2fffe}\\u{2ffff}\\u{3fffe}\\u{3ffff}\\u{4fffe}\\u{4ffff}\\u{5fffe}\\u{5ffff}',
    '\\u{6fffe}\\u{6ffff}\\u{7fffe}\\u{7ffff}\\u{8fffe}\\u{8ffff}\\u{9fffe}\\u{9ffff}\\u{afffe}\\u{affff}',
    '\\u{bfffe}\\u{bffff}\\u{cfffe}\\u{cffff}\\u{dfffe}\\u{dffff}\\u{efffe}\\u{effff}\\u{ffffe}\\u{fffff}',
    '\\u{10fffe}\\u{10ffff}]',
  ].join(''),
  'u',
);

/** The string PBKDF2 should see for `password`, as PostgreSQL would prepare it. */
export function saslprep(password: string): string {
  if (ASCII.test(password)) return password;
  const prepared = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  return PROHIBITED.test(prepared) ? password : prepared;
}
