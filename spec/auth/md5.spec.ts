// Specs for lib/auth/md5: the stored hash, the challenge response, and checking it.

import { md5Response, md5Salt, md5Secret, verifyMd5 } from '../../lib/auth/md5';
import { parseSecret, scramSecretFromPassword } from '../../lib/auth/secret';

interface PgCryptoUtils {
  postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string>;
}
// node-postgres's own md5 response, an independent implementation to check against.
const pgUtils = require('pg/lib/crypto/utils') as PgCryptoUtils;

describe('md5Secret', () => {
  it('is "md5" + md5(password || user), PostgreSQL\'s stored form', () => {
    // The well-known pg_authid value for role postgres with password postgres.
    expect(md5Secret('postgres', 'postgres')).toBe('md53175bce1d3201d16594cebf9d7eb3f9d');
  });
});

describe('md5Response', () => {
  const salt = Buffer.from([0x9c, 0x01, 0xff, 0x20]);

  it('matches node-postgres for a plain password', async () => {
    const expected = await pgUtils.postgresMd5PasswordHash('alice', 'secret', salt);
    expect(md5Response('secret', 'alice', salt)).toBe(expected);
    expect(md5Response({ kind: 'plain', password: 'secret' }, 'alice', salt)).toBe(expected);
  });

  it('gives the same answer from the stored md5 hash as from the password', () => {
    const hash = md5Secret('alice', 'secret');
    expect(md5Response(hash, 'alice', salt)).toBe(md5Response('secret', 'alice', salt));
    expect(md5Response({ kind: 'md5', hash }, 'alice', salt)).toBe(md5Response('secret', 'alice', salt));
  });

  it('depends on the salt', () => {
    expect(md5Response('secret', 'alice', Buffer.from([0, 0, 0, 0]))).not.toBe(md5Response('secret', 'alice', salt));
  });
});

describe('verifyMd5', () => {
  const salt = md5Salt();
  const answer = md5Response('secret', 'alice', salt);

  it('accepts the right response for a plain or md5 secret', () => {
    expect(verifyMd5(parseSecret('secret'), 'alice', salt, answer)).toBe(true);
    expect(verifyMd5(parseSecret(md5Secret('alice', 'secret')), 'alice', salt, answer)).toBe(true);
  });

  it('rejects a wrong password, another user, another salt, and junk of any length', () => {
    const secret = parseSecret('secret');
    expect(verifyMd5(secret, 'alice', salt, md5Response('wrong', 'alice', salt))).toBe(false);
    expect(verifyMd5(secret, 'bob', salt, answer)).toBe(false);
    expect(verifyMd5(secret, 'alice', Buffer.from([1, 2, 3, 4]), answer)).toBe(false);
    for (const junk of ['', 'md5', answer + 'x', answer.toUpperCase()]) expect(verifyMd5(secret, 'alice', salt, junk)).toBe(false);
  });

  it('checks each user against its own stored hash when one secret object serves several users, alternately (catches: the per-secret cache of md5(password || user) answering for the wrong user)', () => {
    const shared = parseSecret('secret');
    for (const user of ['alice', 'bob', 'alice', 'bob']) {
      expect(verifyMd5(shared, user, salt, md5Response('secret', user, salt))).toBe(true);
      expect(verifyMd5(shared, user, salt, md5Response('secret', user === 'alice' ? 'bob' : 'alice', salt))).toBe(false);
    }
  });

  it('never accepts a missing user, an empty password or a SCRAM secret', () => {
    expect(verifyMd5(undefined, 'alice', salt, answer)).toBe(false);
    expect(verifyMd5(parseSecret(''), 'alice', salt, md5Response('', 'alice', salt))).toBe(false);
    expect(verifyMd5(scramSecretFromPassword('secret'), 'alice', salt, answer)).toBe(false);
  });

  it('draws a fresh 4-byte salt each time', () => {
    expect(md5Salt()).toHaveLength(4);
    expect(md5Salt().equals(md5Salt())).toBe(false);
  });
});
