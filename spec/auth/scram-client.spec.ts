// Specs for lib/auth/scram-client: pgmux logging in to a server with SCRAM-SHA-256.

import { ScramClient, type ScramCredential } from '../../lib/auth/scram-client';
import { ScramError, deriveScramKeys } from '../../lib/auth/scram-common';
import { ScramServer } from '../../lib/auth/scram-server';
import { scramSecretFromPassword, type ScramSecret } from '../../lib/auth/secret';

const buf = (s: string): Buffer => Buffer.from(s, 'latin1');
const str = (b: Buffer): string => b.toString('latin1');

/** RFC 7677 section 3: user "user", password "pencil". */
const RFC7677 = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfcClient(cred: ScramCredential = { password: 'pencil' }): ScramClient {
  return new ScramClient(cred, { nonce: RFC7677.clientNonce, user: 'user' });
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

/** A full exchange between our client and our server; returns what the server decided. */
function exchange(client: ScramClient, server: ScramServer): ReturnType<ScramServer['clientFinal']> {
  const first = client.initialResponse();
  server.selectMechanism(first.mechanism);
  const serverFirst = server.clientFirst(first.data);
  const result = server.clientFinal(client.serverFirst(buf(serverFirst)));
  if (result.ok) client.serverFinal(buf(result.serverFinal));
  return result;
}

describe('ScramClient', () => {
  describe('RFC 7677 test vector (user/pencil)', () => {
    it('produces the client messages and accepts the server signature, from the password', () => {
      const client = rfcClient();
      expect(client.initialResponse()).toEqual({ mechanism: 'SCRAM-SHA-256', data: buf(RFC7677.clientFirst) });
      expect(str(client.serverFirst(buf(RFC7677.serverFirst)))).toBe(RFC7677.clientFinal);
      expect(() => client.serverFinal(buf(RFC7677.serverFinal))).not.toThrow();
    });

    it('does the same from ClientKey/ServerKey alone, without the password', () => {
      const { clientKey, serverKey } = deriveScramKeys('pencil', RFC7677.salt, 4096);
      const client = rfcClient({ clientKey, serverKey });
      client.initialResponse();
      expect(str(client.serverFirst(buf(RFC7677.serverFirst)))).toBe(RFC7677.clientFinal);
      expect(() => client.serverFinal(buf(RFC7677.serverFinal))).not.toThrow();
    });

    it('throws when the server signature is wrong (server does not know the verifier)', () => {
      const client = rfcClient();
      client.initialResponse();
      client.serverFirst(buf(RFC7677.serverFirst));
      const forged = 'v=' + Buffer.alloc(32, 1).toString('base64');
      expect(scramError(() => client.serverFinal(buf(forged))).summary).toBe('incorrect server signature');
    });
  });

  it('sends an empty user name and no channel binding by default, like libpq and PgBouncer', () => {
    const { mechanism, data } = new ScramClient({ password: 'x' }).initialResponse();
    expect(mechanism).toBe('SCRAM-SHA-256');
    expect(str(data)).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  });

  it('escapes , and = in a user name (RFC 5802 saslname)', () => {
    const { data } = new ScramClient({ password: 'x' }, { nonce: 'N', user: 'a,b=c' }).initialResponse();
    expect(str(data)).toBe('n,,n=a=2Cb=3Dc,r=N');
  });

  describe('against ScramServer', () => {
    it.each([
      [1, 4096],
      [7, 4096],
      [16, 1],
      [32, 10000],
    ])('logs in with a %i-byte salt and %i iterations', (saltLength, iterations) => {
      const secret = scramSecretFromPassword('pw', Buffer.alloc(saltLength, 0x5a), iterations);
      expect(exchange(new ScramClient({ password: 'pw' }), new ScramServer(secret, 'alice')).ok).toBe(true);
      // Again, now served from the derived-key cache.
      expect(exchange(new ScramClient({ password: 'pw' }), new ScramServer(secret, 'alice')).ok).toBe(true);
    });

    it('is refused with a wrong password', () => {
      const secret = scramSecretFromPassword('pw');
      expect(exchange(new ScramClient({ password: 'nope' }), new ScramServer(secret, 'alice')).ok).toBe(false);
    });

    it("PgBouncer's trick: keys recovered by one ScramServer log in to another holding the same secret", () => {
      const secret: ScramSecret = scramSecretFromPassword('pw', Buffer.from('odd-length-salt'), 4096);
      const front = exchange(new ScramClient({ password: 'pw' }), new ScramServer(secret, 'alice'));
      if (!front.ok) throw new Error(front.reason);
      const back = new ScramClient({ clientKey: front.clientKey, serverKey: front.serverKey });
      expect(exchange(back, new ScramServer(secret, 'alice')).ok).toBe(true);
    });

    it('the recovered keys do not work against a verifier with another salt', () => {
      const secret = scramSecretFromPassword('pw');
      const front = exchange(new ScramClient({ password: 'pw' }), new ScramServer(secret, 'alice'));
      if (!front.ok) throw new Error(front.reason);
      const other = scramSecretFromPassword('pw');
      const back = new ScramClient({ clientKey: front.clientKey, serverKey: front.serverKey });
      expect(exchange(back, new ScramServer(other, 'alice')).ok).toBe(false);
    });
  });

  describe('server-first-message checks', () => {
    function started(): ScramClient {
      const client = new ScramClient({ password: 'pw' }, { nonce: 'CLI' });
      client.initialResponse();
      return client;
    }
    const salt = 'c2FsdA==';

    it.each([
      ['r=XYZSRV,s=' + salt + ',i=4096', 'invalid SCRAM response', 'Nonce mismatch.'],
      ['r=CLI,s=' + salt + ',i=4096', 'invalid SCRAM response', 'Nonce mismatch.'],
      ['r=CLISRV,s=c2Fsd,i=4096', 'malformed SCRAM message', 'Invalid salt.'],
      ['r=CLISRV,s=' + salt + ',i=0', 'malformed SCRAM message', 'Invalid iteration count.'],
      ['r=CLISRV,s=' + salt + ',i=12x', 'malformed SCRAM message', 'Invalid iteration count.'],
      ['r=CLISRV,s=' + salt + ',i=4096,x=1', 'malformed SCRAM message', 'Garbage at end of server-first-message.'],
      ['s=' + salt + ',r=CLISRV,i=4096', 'malformed SCRAM message', 'Expected attribute "r" but found "\'s\'".'],
    ])('rejects %j', (message, summary, detail) => {
      const err = scramError(() => started().serverFirst(buf(message)));
      expect({ summary: err.summary, detail: err.detail }).toEqual({ summary, detail });
    });
  });

  describe('server-final-message checks', () => {
    function awaitingFinal(): ScramClient {
      const client = new ScramClient({ password: 'pw' }, { nonce: 'CLI' });
      client.initialResponse();
      client.serverFirst(buf('r=CLISRV,s=c2FsdA==,i=1'));
      return client;
    }

    it('reports a server-side error attribute', () => {
      const err = scramError(() => awaitingFinal().serverFinal(buf('e=invalid-proof')));
      expect({ summary: err.summary, detail: err.detail }).toEqual({
        summary: 'error received from server in SCRAM exchange',
        detail: 'invalid-proof',
      });
    });

    it('rejects a malformed signature', () => {
      expect(scramError(() => awaitingFinal().serverFinal(buf('v=AAAA'))).detail).toBe('Malformed server signature.');
    });
  });

  it('refuses calls out of order', () => {
    const client = new ScramClient({ password: 'pw' });
    expect(scramError(() => client.serverFirst(buf('r=x,s=c2FsdA==,i=1'))).summary).toBe('SCRAM message out of order');
    client.initialResponse();
    expect(scramError(() => client.initialResponse()).summary).toBe('SCRAM message out of order');
  });
});
