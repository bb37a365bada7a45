// Specs for lib/auth/method: which challenge a client gets, and cleartext password checks.

import { chooseMethod, verifyCleartext, type AuthMethod } from '../../lib/auth/method';
import { md5Secret } from '../../lib/auth/md5';
import { parseSecret, scramSecretFromPassword, type Secret } from '../../lib/auth/secret';

const secrets: Record<string, Secret | undefined> = {
  plain: parseSecret('secret'),
  md5: parseSecret(md5Secret('alice', 'secret')),
  scram: scramSecretFromPassword('secret'),
  missing: undefined,
};

describe('chooseMethod', () => {
  // Each row: auth_type, then the method for a plain, md5, SCRAM and missing secret.
  // Checked against PgBouncer 1.18 by probing the binary with each auth_type and user kind.
  const table: [string, AuthMethod, AuthMethod, AuthMethod, AuthMethod][] = [
    /** any: the user name is ignored entirely (the database's forced user connects). */
    ['any', 'none', 'none', 'none', 'none'],
    /** trust: no password, but the user must be listed ("trust" authentication failed otherwise). */
    ['trust', 'none', 'none', 'none', 'reject'],
    /** plain: a cleartext password checks against every secret kind. */
    ['plain', 'cleartext', 'cleartext', 'cleartext', 'cleartext'],
    /** md5: switches to SCRAM for a SCRAM secret; a missing user still gets an md5 salt. */
    ['md5', 'md5', 'md5', 'scram', 'md5'],
    /** scram-sha-256: an md5 secret or missing user runs a doomed SCRAM exchange. */
    ['scram-sha-256', 'scram', 'scram', 'scram', 'scram'],
  ];

  it.each(table)('auth_type %s', (authType, plain, md5, scram, missing) => {
    expect({
      plain: chooseMethod(authType, secrets.plain),
      md5: chooseMethod(authType, secrets.md5),
      scram: chooseMethod(authType, secrets.scram),
      missing: chooseMethod(authType, secrets.missing),
    }).toEqual({ plain, md5, scram, missing });
  });

  it.each(['cert', 'peer', 'pam', 'hba', 'MD5', '', 'toString'])('refuses auth_type %j, decided elsewhere or unknown', (authType) => {
    expect(chooseMethod(authType, secrets.plain)).toBe('reject');
  });
});

describe('verifyCleartext', () => {
  it.each(['plain', 'md5', 'scram'])('accepts the right password against a %s secret', (kind) => {
    expect(verifyCleartext(secrets[kind], 'alice', 'secret')).toBe(true);
  });

  it.each(['plain', 'md5', 'scram'])('rejects a wrong password against a %s secret', (kind) => {
    for (const wrong of ['Secret', 'secret ', 'secre', '']) expect(verifyCleartext(secrets[kind], 'alice', wrong)).toBe(false);
  });

  it('ties an md5 secret to its user name', () => {
    expect(verifyCleartext(secrets.md5, 'bob', 'secret')).toBe(false);
  });

  it('never accepts a missing user or an empty stored password, even when the client sends ""', () => {
    expect(verifyCleartext(undefined, 'alice', '')).toBe(false);
    expect(verifyCleartext(parseSecret(''), 'alice', '')).toBe(false);
  });

  it('applies SASLprep before checking against a SCRAM secret, as PostgreSQL does', () => {
    const secret = scramSecretFromPassword('päss word');
    expect(verifyCleartext(secret, 'zoë', 'pa\u0308ss\u00a0word')).toBe(true);
  });
});
