// Specs for lib/auth/secret and lib/auth/saslprep: telling stored secrets apart, building SCRAM verifiers.

import { formatScramSecret, isUsableSecret, parseSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { saslprep } from '../../lib/auth/saslprep';

/** RFC 7677's user "user", password "pencil", salt and iterations, as a pg_authid string. */
const PENCIL_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');

describe('parseSecret', () => {
  it('recognises md5 hashes: "md5" and exactly 32 lowercase hex digits', () => {
    const hash = 'md5' + '0123456789abcdef'.repeat(2);
    expect(parseSecret(hash)).toEqual({ kind: 'md5', hash });
  });

  it.each([
    ['upper-case hex', 'md5' + '0123456789ABCDEF'.repeat(2)],
    ['31 digits', 'md5' + 'a'.repeat(31)],
    ['33 digits', 'md5' + 'a'.repeat(33)],
    ['no prefix', 'a'.repeat(35)],
  ])('treats an md5 look-alike (%s) as a plain password', (_why, s) => {
    expect(parseSecret(s)).toEqual({ kind: 'plain', password: s });
  });

  it('decodes a SCRAM-SHA-256 verifier in pg_authid format', () => {
    const built = scramSecretFromPassword('pencil', PENCIL_SALT, 4096);
    const text = formatScramSecret(built);
    expect(text).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(parseSecret(text)).toEqual(built);
  });

  it('accepts any salt length', () => {
    for (const length of [1, 7, 16, 33]) {
      const built = scramSecretFromPassword('pw', Buffer.alloc(length, 7), 10);
      expect(parseSecret(formatScramSecret(built))).toEqual(built);
    }
  });

  it.each([
    ['zero iterations', 'SCRAM-SHA-256$0:c2FsdA==$'],
    ['short StoredKey', 'SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:'],
    ['bad base64 salt', 'SCRAM-SHA-256$4096:c2Fsd$'],
    ['other mechanism', 'SCRAM-SHA-1$4096:c2FsdA==$'],
  ])('treats a broken verifier (%s) as a plain password, as PostgreSQL does', (_why, prefix) => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const s = prefix.endsWith(':') ? `${prefix}${key}` : `${prefix}${key}:${key}`;
    expect(parseSecret(s).kind).toBe('plain');
  });

  it('makes a fresh random 16-byte salt and 4096 iterations by default', () => {
    const a = scramSecretFromPassword('same');
    const b = scramSecretFromPassword('same');
    expect(a.salt).toHaveLength(16);
    expect(a.iterations).toBe(4096);
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
  });
});

describe('isUsableSecret', () => {
  it('refuses a missing user and an empty plain password, as PgBouncer does', () => {
    expect(isUsableSecret(undefined)).toBe(false);
    expect(isUsableSecret(parseSecret(''))).toBe(false);
    expect(isUsableSecret(parseSecret('x'))).toBe(true);
  });
});

describe('saslprep', () => {
  it('leaves every ASCII password alone, control characters included (PostgreSQL hashes those raw)', () => {
    for (const pw of ['pencil', 'with space', 'tab\there', '\x7f\x01', '']) expect(saslprep(pw)).toBe(pw);
  });

  it('maps non-ASCII spaces to a space and drops characters mapped to nothing', () => {
    expect(saslprep('a\u00a0b\u3000c')).toBe('a b c');
    expect(saslprep('a\u00adb\u200dc')).toBe('abc');
  });

  it('applies NFKC', () => {
    expect(saslprep('ｐａｓｓ')).toBe('pass'); // fullwidth
    expect(saslprep('e\u0301')).toBe('\u00e9');
    expect(saslprep('\u2168')).toBe('IX'); // ROMAN NUMERAL NINE
  });

  it('falls back to the raw password when the result has a prohibited character', () => {
    expect(saslprep('caf\u00e9\u0007')).toBe('caf\u00e9\u0007');
    expect(saslprep('\ue000\u00a0')).toBe('\ue000\u00a0'); // private use
    expect(saslprep('\ud800x\u00e9')).toBe('\ud800x\u00e9'); // lone surrogate
  });
});
