// Specs for lib/auth/scram-server: pgmux verifying a client's SCRAM-SHA-256 login.

import { ScramError, deriveScramKeys, sha256 } from '../../lib/auth/scram-common';
import { ScramServer } from '../../lib/auth/scram-server';
import { md5Secret } from '../../lib/auth/md5';
import { parseSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { pgLogin } from './support/pg-sasl';

const buf = (s: string): Buffer => Buffer.from(s, 'latin1');

/** RFC 7677 section 3: user "user", password "pencil". */
const RFC7677 = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

/** The salt a server challenges with, read back from its server-first-message. */
function challengeSalt(server: ScramServer): string {
  const first = server.clientFirst(buf('n,,n=,r=abcdef'));
  return /,s=([^,]+),/.exec(first)![1]!;
}

/** Runs `fn` and returns the ScramError it throws. */
function scramError(fn: () => unknown): ScramError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScramError) return err;
    throw err;
  }
  throw new Error('expected a ScramError');
}

describe('ScramServer', () => {
  it('reproduces the RFC 7677 exchange for user/pencil', () => {
    const secret = scramSecretFromPassword('pencil', RFC7677.salt, 4096);
    const server = new ScramServer(secret, 'user', { nonce: RFC7677.serverNonce });
    expect(server.clientFirst(buf(RFC7677.clientFirst))).toBe(RFC7677.serverFirst);
    const result = server.clientFinal(buf(RFC7677.clientFinal));
    expect(result).toMatchObject({ ok: true, serverFinal: RFC7677.serverFinal });
  });

  it('offers only SCRAM-SHA-256 (no -PLUS: no channel binding) and refuses other mechanisms', () => {
    const server = new ScramServer(parseSecret('pw'), 'alice');
    expect(server.mechanisms()).toEqual(['SCRAM-SHA-256']);
    expect(() => server.selectMechanism('SCRAM-SHA-256')).not.toThrow();
    expect(scramError(() => server.selectMechanism('SCRAM-SHA-256-PLUS')).summary).toBe(
      'client selected an invalid SASL authentication mechanism',
    );
  });

  describe("against node-postgres's SCRAM client", () => {
    it('accepts the right password for a plain-text secret, and pg accepts our signature', async () => {
      const result = await pgLogin(new ScramServer(parseSecret('s3cret'), 'alice'), 's3cret');
      expect(result.ok).toBe(true);
    });

    it('accepts the right password for a SCRAM secret', async () => {
      const secret = scramSecretFromPassword('s3cret');
      expect((await pgLogin(new ScramServer(secret, 'alice'), 's3cret')).ok).toBe(true);
    });

    it('returns ok: false for a wrong password', async () => {
      for (const secret of [parseSecret('s3cret'), scramSecretFromPassword('s3cret')]) {
        const result = await pgLogin(new ScramServer(secret, 'alice'), 'wrong');
        expect(result).toEqual({ ok: false, reason: 'Password does not match for user "alice".' });
      }
    });

    it('accepts the "y" gs2 flag (client could bind, we offered no -PLUS)', async () => {
      const result = await pgLogin(new ScramServer(parseSecret('s3cret'), 'alice'), 's3cret', {});
      expect(result.ok).toBe(true);
    });

    it('agrees with pg on SASLprep for non-ASCII passwords', async () => {
      // pg maps the no-break space to a space and NFKC-normalises; so must we, for plain secrets.
      const result = await pgLogin(new ScramServer(parseSecret('ｐäss\u00a0wörd'), 'zoë'), 'ｐäss\u00a0wörd');
      expect(result.ok).toBe(true);
      const secret = scramSecretFromPassword('päss word');
      expect((await pgLogin(new ScramServer(secret, 'zoë'), 'pa\u0308ss\u00a0word')).ok).toBe(true);
    });

    it('recovers the ClientKey the client derived, and hands out the secret\'s ServerKey', async () => {
      const secret = scramSecretFromPassword('s3cret');
      const result = await pgLogin(new ScramServer(secret, 'alice'), 's3cret');
      if (!result.ok) throw new Error(result.reason);
      const keys = deriveScramKeys('s3cret', secret.salt, secret.iterations);
      expect(result.clientKey.equals(keys.clientKey)).toBe(true);
      expect(sha256(result.clientKey).equals(secret.storedKey)).toBe(true);
      expect(result.serverKey.equals(secret.serverKey)).toBe(true);
    });
  });

  describe('failing like a wrong password (mock authentication)', () => {
    it.each([
      ['a user missing from auth_file', undefined, 'User "ghost" does not exist.'],
      ['an md5 secret (cannot verify SCRAM)', parseSecret(md5Secret('ghost', 's3cret')), 'User "ghost" does not have a valid SCRAM secret.'],
      ['an empty password', parseSecret(''), 'User "ghost" has an empty password.'],
    ])('runs the whole exchange for %s, then fails', async (_case, secret, reason) => {
      const server = new ScramServer(secret, 'ghost');
      expect(await pgLogin(server, 's3cret')).toEqual({ ok: false, reason });
    });

    it('challenges a missing user with a salt that is stable per name, like a real user\'s', () => {
      const a = challengeSalt(new ScramServer(undefined, 'ghost'));
      expect(challengeSalt(new ScramServer(undefined, 'ghost'))).toBe(a);
      expect(challengeSalt(new ScramServer(undefined, 'other'))).not.toBe(a);
      expect(Buffer.from(a, 'base64')).toHaveLength(16);
    });

    it('keeps a plain-text user\'s salt stable across logins, and distinct between users with equal passwords', () => {
      const a = challengeSalt(new ScramServer(parseSecret('same'), 'alice'));
      expect(challengeSalt(new ScramServer(parseSecret('same'), 'alice'))).toBe(a);
      expect(challengeSalt(new ScramServer(parseSecret('same'), 'bob'))).not.toBe(a);
      expect(challengeSalt(new ScramServer(parseSecret('changed'), 'alice'))).not.toBe(a);
    });
  });

  describe('client-first-message', () => {
    it('answers r=<client nonce><server nonce>,s=<salt>,i=<iterations>', () => {
      const secret = scramSecretFromPassword('pw', Buffer.from('salty'), 777);
      const first = new ScramServer(secret, 'alice', { nonce: 'SRV' }).clientFirst(buf('n,,n=ignored,r=CLI,x=ext'));
      expect(first).toBe(`r=CLISRV,s=${Buffer.from('salty').toString('base64')},i=777`);
    });

    it('draws a fresh server nonce per exchange', () => {
      const secret = parseSecret('pw');
      const a = new ScramServer(secret, 'alice').clientFirst(buf('n,,n=,r=x'));
      const b = new ScramServer(secret, 'alice').clientFirst(buf('n,,n=,r=x'));
      expect(a).not.toBe(b);
    });

    // Summary, detail and SQLSTATE are PostgreSQL 15's for the same input (postgres.spec.ts checks them live).
    it.each([
      ['p=tls-server-end-point,,n=,r=abc', 'malformed SCRAM message', 'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.', '08P01'],
      ['x,,n=,r=abc', 'malformed SCRAM message', 'Unexpected channel-binding flag "\'x\'".', '08P01'],
      ['n;,n=,r=abc', 'malformed SCRAM message', 'Comma expected, but found character "\';\'".', '08P01'],
      ['n,a=bob,n=,r=abc', 'client uses authorization identity, but it is not supported', undefined, '0A000'],
      ['n,,m=ext,n=,r=abc', 'client requires an unsupported SCRAM extension', undefined, '0A000'],
      ['n,,r=abc', 'malformed SCRAM message', 'Expected attribute "n" but found "\'r\'".', '08P01'],
      ['n,,n=,r=a b', 'non-printable characters in SCRAM nonce', undefined, '08P01'],
    ])('rejects %j like PostgreSQL', (message, summary, detail, sqlState) => {
      const err = scramError(() => new ScramServer(parseSecret('pw'), 'alice').clientFirst(buf(message)));
      expect({ summary: err.summary, detail: err.detail, sqlState: err.sqlState }).toEqual({ summary, detail, sqlState });
    });
  });

  describe('client-final-message', () => {
    /** A server that has answered client-first `n,,n=,r=C` (or with `flag`) with server nonce S. */
    function afterFirst(flag = 'n'): ScramServer {
      const server = new ScramServer(parseSecret('pw'), 'alice', { nonce: 'S' });
      server.clientFirst(buf(`${flag},,n=,r=C`));
      return server;
    }
    const proof = Buffer.alloc(32).toString('base64');

    it.each([
      ['c=eSws,r=CS,p=' + proof, 'n', 'unexpected SCRAM channel-binding attribute in client-final-message', undefined],
      ['c=biws,r=CS,p=' + proof, 'y', 'unexpected SCRAM channel-binding attribute in client-final-message', undefined],
      ['c=biws,r=CX,p=' + proof, 'n', 'invalid SCRAM response', 'Nonce does not match.'],
      ['c=biws,r=CS,p=AAAA', 'n', 'malformed SCRAM message', 'Malformed proof in client-final-message.'],
      ['c=biws,r=CS,p=' + proof + ',x=1', 'n', 'malformed SCRAM message', 'Garbage found at the end of client-final-message.'],
      ['c=biws,r=CS', 'n', 'malformed SCRAM message', 'Attribute expected, but found end of string.'],
    ])('rejects %j (gs2 flag %s)', (message, flag, summary, detail) => {
      const err = scramError(() => afterFirst(flag).clientFinal(buf(message)));
      expect({ summary: err.summary, detail: err.detail, sqlState: err.sqlState }).toEqual({ summary, detail, sqlState: '08P01' });
    });

    it('skips extensions before the proof and returns ok: false for a wrong proof', () => {
      expect(afterFirst().clientFinal(buf(`c=biws,r=CS,x=ext,p=${proof}`))).toMatchObject({ ok: false });
    });
  });

  it('refuses messages out of order', () => {
    const server = new ScramServer(parseSecret('pw'), 'alice');
    expect(scramError(() => server.clientFinal(buf('c=biws'))).summary).toBe('SCRAM message out of order');
    const again = new ScramServer(parseSecret('pw'), 'alice');
    again.clientFirst(buf('n,,n=,r=x'));
    expect(scramError(() => again.clientFirst(buf('n,,n=,r=x'))).summary).toBe('SCRAM message out of order');
  });
});
