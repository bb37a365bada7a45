// In-process spec of the hardening promises of lib/auth (issue 7, "Hardening"), counted with spies
// on node:crypto rather than timed: secrets are compared with timingSafeEqual, and a SCRAM login
// pays PBKDF2 once per secret (the plain auth_file password's derived verifier is cached), never
// per attempt, including the doomed exchange for an unknown user or an md5 secret. The
// black-box counterpart, a burst of failed logins against a running pgmux, is login-burst.spec.ts.

import { randomBytes } from 'node:crypto';
import { ScramServer } from '../../lib/auth/scram-server';
import { verifyCleartext } from '../../lib/auth/method';
import { md5Response, md5Secret, verifyMd5 } from '../../lib/auth/md5';
import { parseSecret, scramSecretFromPassword, type Secret } from '../../lib/auth/secret';

const buf = (s: string): Buffer => Buffer.from(s, 'latin1');

/** One SCRAM attempt with a random (wrong) proof; returns whether it passed. */
function wrongProofAttempt(secret: Secret | undefined, user: string): boolean {
  const server = new ScramServer(secret, user);
  const nonce = randomBytes(18).toString('base64');
  const first = server.clientFirst(buf(`n,,n=,r=${nonce}`));
  const combined = /r=([^,]+)/.exec(first)![1]!;
  return server.clientFinal(buf(`c=biws,r=${combined},p=${randomBytes(32).toString('base64')}`)).ok;
}

/**
 * The module object lib/ calls through (`import * as` would give the spec a copy, which a spy
 * on would never see lib's calls).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const crypto = require('node:crypto') as typeof import('node:crypto');

let pbkdf2: jest.SpyInstance;
let safeEqual: jest.SpyInstance;

beforeEach(() => {
  pbkdf2 = jest.spyOn(crypto, 'pbkdf2Sync');
  safeEqual = jest.spyOn(crypto, 'timingSafeEqual');
});

afterEach(() => jest.restoreAllMocks());

describe('PBKDF2 is paid per secret, not per login attempt', () => {
  it('runs none for 200 SCRAM attempts against an unknown user, an md5 secret, or a SCRAM secret of 10 million iterations (catches: the mock or a verifier re-derived per attempt)', () => {
    const heavy = scramSecretFromPassword('pw', randomBytes(16), 1); // iterations are only read, never run, below
    const costly: Secret = { ...heavy, iterations: 10_000_000 };
    pbkdf2.mockClear();
    for (let i = 0; i < 200; i++) {
      expect(wrongProofAttempt(undefined, `ghost${i % 3}`)).toBe(false);
      expect(wrongProofAttempt(parseSecret(md5Secret('alice', 'pw')), 'alice')).toBe(false);
      expect(wrongProofAttempt(costly, 'bob')).toBe(false);
    }
    expect(pbkdf2).not.toHaveBeenCalled();
  });

  it('derives the verifier of a plain auth_file password once, then reuses it for every attempt (catches: 4096 iterations per login of a plain-text user)', () => {
    const secret = parseSecret(`plain-${randomBytes(6).toString('hex')}`);
    for (let i = 0; i < 50; i++) expect(wrongProofAttempt(secret, 'carol')).toBe(false);
    expect(pbkdf2).toHaveBeenCalledTimes(1);
  });
});

describe('secrets are compared in constant time', () => {
  it('checks md5 responses with timingSafeEqual, also for an unknown user (catches: === on the response, or an early exit that times user existence)', () => {
    const salt = randomBytes(4);
    const right = md5Response('pw', 'alice', salt);
    expect(verifyMd5(parseSecret('pw'), 'alice', salt, right)).toBe(true);
    expect(verifyMd5(parseSecret('pw'), 'alice', salt, right.replace(/.$/, (c) => (c === '0' ? '1' : '0')))).toBe(false);
    expect(verifyMd5(undefined, 'ghost', salt, right)).toBe(false);
    expect(safeEqual).toHaveBeenCalledTimes(3);
  });

  it('checks cleartext passwords against plain, md5 and SCRAM secrets with timingSafeEqual (catches: === leaking how much of the password matched)', () => {
    const scram = scramSecretFromPassword('pw', randomBytes(16), 16);
    for (const secret of [parseSecret('pw'), parseSecret(md5Secret('alice', 'pw')), scram]) {
      expect(verifyCleartext(secret, 'alice', 'pw')).toBe(true);
      expect(verifyCleartext(secret, 'alice', 'pX')).toBe(false);
    }
    expect(safeEqual).toHaveBeenCalledTimes(6);
  });

  it('checks SCRAM proofs with timingSafeEqual, doomed exchanges included (catches: a doomed exchange returning before the comparison)', () => {
    expect(wrongProofAttempt(scramSecretFromPassword('pw', randomBytes(16), 16), 'alice')).toBe(false);
    expect(wrongProofAttempt(undefined, 'ghost')).toBe(false);
    expect(safeEqual).toHaveBeenCalledTimes(2);
  });
});
