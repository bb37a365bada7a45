// Owns SCRAM-SHA-256 with pgmux as the server: verifying a client's proof against an auth_file secret.
//
// One ScramServer per login attempt: clientFirst() then clientFinal(). Parsing and error texts
// follow PostgreSQL's auth-scram.c, so a client sees what the real server would say.
//
// Failing like a wrong password, never earlier: for a user missing from auth_file, an empty
// password or an md5 secret (which cannot verify a SCRAM proof), the exchange runs to the end
// with a made-up verifier and then fails ("doomed"), as PostgreSQL's mock authentication does.
// The client cannot tell those cases from a wrong password, and the mock salt for a user name is
// stable across attempts, like a real user's.

import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SqlState } from '../protocol/codes';
import {
  AttrReader,
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_DEFAULT_SALT_LENGTH,
  SCRAM_KEY_LENGTH,
  SCRAM_MECHANISM,
  SCRAM_NONCE_BYTES,
  ScramError,
  authMessage,
  decodeBase64,
  hmac,
  isPrintable,
  malformed,
  safeEqual,
  sha256,
  shown,
  xor,
} from './scram-common';
import { isUsableSecret, scramSecretFromPassword, type ScramSecret, type Secret } from './secret';

export type ScramServerResult =
  | {
      ok: true;
      /** Send as AuthenticationSASLFinal data. */
      serverFinal: string;
      /**
       * The client's ClientKey, recovered from its proof, and the secret's ServerKey. Together
       * they let a ScramClient log in to a PostgreSQL server holding the same SCRAM secret
       * without knowing the password (PgBouncer's trick for SCRAM-only auth_file entries).
       */
      clientKey: Buffer;
      serverKey: Buffer;
    }
  | {
      ok: false;
      /** For the log only. The client gets the same password-failed error in every case. */
      reason: string;
    };

/**
 * Verifiers built from plain-text auth_file passwords, keyed by user and password. PBKDF2 runs
 * once per user rather than per login, and the salt a user is challenged with stays stable
 * (PgBouncer caches the same way). Keyed by user too, so equal passwords get different salts.
 */
const adhocVerifiers = new LRUCache<string, ScramSecret>({ max: 1000 });

function adhocVerifier(user: string, password: string): ScramSecret {
  const key = `${user}\0${password}`;
  let secret = adhocVerifiers.get(key);
  if (secret === undefined) {
    secret = scramSecretFromPassword(password);
    adhocVerifiers.set(key, secret);
  }
  return secret;
}

/** Per-process secret for mock salts, so they cannot be predicted from outside. */
const mockNonce = randomBytes(32);

/** A verifier no proof can satisfy, with a salt derived from the user name (scram_mock_salt). */
function mockVerifier(user: string): ScramSecret {
  const salt = createHash('sha256').update(user, 'utf8').update(mockNonce).digest();
  return {
    kind: 'scram',
    iterations: SCRAM_DEFAULT_ITERATIONS,
    salt: salt.subarray(0, SCRAM_DEFAULT_SALT_LENGTH),
    storedKey: randomBytes(SCRAM_KEY_LENGTH),
    serverKey: randomBytes(SCRAM_KEY_LENGTH),
  };
}

/** What a verifier for this login is made of, and why it is doomed if it is. */
function verifierFor(secret: Secret | undefined, user: string): { verifier: ScramSecret; doomed?: string } {
  if (secret === undefined) return { verifier: mockVerifier(user), doomed: `User "${user}" does not exist.` };
  if (!isUsableSecret(secret)) return { verifier: mockVerifier(user), doomed: `User "${user}" has an empty password.` };
  switch (secret.kind) {
    case 'scram':
      return { verifier: secret };
    case 'plain':
      return { verifier: adhocVerifier(user, secret.password) };
    case 'md5':
      return { verifier: mockVerifier(user), doomed: `User "${user}" does not have a valid SCRAM secret.` };
  }
}

type Phase = 'initial' | 'sent-first' | 'done';

/** The gs2 channel-binding flag of client-first-message: 'n' (client can't) or 'y' (can, we don't offer). */
type CbindFlag = 'n' | 'y';

/** c= in client-final-message must be the gs2 header echoed back in base64: "n,," or "y,,". */
const CBIND_ECHO: Record<CbindFlag, string> = { n: 'biws', y: 'eSws' };

export class ScramServer {
  private phase: Phase = 'initial';
  private readonly verifier: ScramSecret;
  private readonly doomed: string | undefined;
  private readonly serverNonce: string;
  private cbindFlag: CbindFlag = 'n';
  private clientNonce = '';
  private clientFirstBare = '';
  private serverFirst = '';

  /**
   * @param secret the user's auth_file secret (plain or SCRAM authenticate; md5, empty or
   *   undefined for a missing user run a doomed exchange)
   * @param user the startup packet's user name (the SCRAM n= attribute is ignored, as in PostgreSQL)
   * @param opts.nonce fixed server nonce, for test vectors only
   */
  constructor(
    secret: Secret | undefined,
    private readonly user: string,
    opts: { nonce?: string } = {},
  ) {
    const { verifier, doomed } = verifierFor(secret, user);
    this.verifier = verifier;
    this.doomed = doomed;
    this.serverNonce = opts.nonce ?? randomBytes(SCRAM_NONCE_BYTES).toString('base64');
  }

  /** Mechanisms to list in AuthenticationSASL. No -PLUS: pgmux offers no channel binding. */
  mechanisms(): string[] {
    return [SCRAM_MECHANISM];
  }

  /** Checks the mechanism named in SASLInitialResponse. */
  selectMechanism(name: string): void {
    if (!this.mechanisms().includes(name)) {
      throw new ScramError('client selected an invalid SASL authentication mechanism');
    }
  }

  /** Takes SASLInitialResponse data; returns server-first-message for AuthenticationSASLContinue. */
  clientFirst(data: Buffer): string {
    this.advance('initial', 'sent-first');
    this.readClientFirst(data.toString('latin1'));
    const salt = this.verifier.salt.toString('base64');
    this.serverFirst = `r=${this.clientNonce}${this.serverNonce},s=${salt},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /**
   * Takes SASLResponse data. Throws ScramError for a malformed or inconsistent message
   * (PostgreSQL answers those with 08P01); returns ok: false when the proof is wrong.
   */
  clientFinal(data: Buffer): ScramServerResult {
    this.advance('sent-first', 'done');
    const text = data.toString('latin1');
    const { nonce, proof, withoutProof } = this.readClientFinal(text);
    if (nonce !== this.clientNonce + this.serverNonce) {
      throw new ScramError('invalid SCRAM response', 'Nonce does not match.');
    }
    const message = authMessage(this.clientFirstBare, this.serverFirst, withoutProof);
    const clientKey = xor(proof, hmac(this.verifier.storedKey, message));
    const proofOk = safeEqual(sha256(clientKey), this.verifier.storedKey);
    if (this.doomed !== undefined) return { ok: false, reason: this.doomed };
    if (!proofOk) return { ok: false, reason: `Password does not match for user "${this.user}".` };
    const serverSignature = hmac(this.verifier.serverKey, message).toString('base64');
    return { ok: true, serverFinal: `v=${serverSignature}`, clientKey, serverKey: this.verifier.serverKey };
  }

  private advance(from: Phase, to: Phase): void {
    if (this.phase !== from) throw new ScramError('SCRAM message out of order', `Expected it in phase ${from}.`);
    this.phase = to;
  }

  /** gs2-header then client-first-message-bare (RFC 5802 section 7), as read_client_first_message. */
  private readClientFirst(text: string): void {
    const flag = text[0];
    switch (flag) {
      case 'n':
      case 'y':
        this.cbindFlag = flag;
        break;
      case 'p':
        // PostgreSQL offers SCRAM-SHA-256-PLUS only over TLS, and pgmux never offers it.
        throw new ScramError(
          'malformed SCRAM message',
          'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.',
        );
      default:
        malformed(`Unexpected channel-binding flag "${shown(flag)}".`);
    }
    if (text[1] !== ',') malformed(`Comma expected, but found character "${shown(text[1])}".`);
    if (text[2] === 'a') {
      throw new ScramError(
        'client uses authorization identity, but it is not supported',
        undefined,
        SqlState.FeatureNotSupported,
      );
    }
    if (text[2] !== ',') malformed(`Unexpected attribute "${shown(text[2])}" in client-first-message.`);
    this.clientFirstBare = text.slice(3);
    const r = new AttrReader(this.clientFirstBare);
    if (r.peek() === 'm') {
      throw new ScramError('client requires an unsupported SCRAM extension', undefined, SqlState.FeatureNotSupported);
    }
    r.expect('n'); // the user name: PostgreSQL uses the startup packet's, and so do we
    const nonce = r.expect('r');
    if (!isPrintable(nonce)) throw new ScramError('non-printable characters in SCRAM nonce');
    while (!r.atEnd) r.any(); // extensions: none supported, all ignored
    this.clientNonce = nonce;
  }

  /** c=, r=, ignored extensions, p= last (RFC 5802 section 7), as read_client_final_message. */
  private readClientFinal(text: string): { nonce: string; proof: Buffer; withoutProof: string } {
    const r = new AttrReader(text);
    if (r.expect('c') !== CBIND_ECHO[this.cbindFlag]) {
      throw new ScramError('unexpected SCRAM channel-binding attribute in client-final-message');
    }
    const nonce = r.expect('r');
    let proofStart: number;
    let attr: { attr: string; value: string };
    do {
      proofStart = r.pos - 1; // the comma before the attribute
      attr = r.any();
    } while (attr.attr !== 'p');
    const proof = decodeBase64(attr.value);
    if (proof?.length !== SCRAM_KEY_LENGTH) malformed('Malformed proof in client-final-message.');
    if (!r.atEnd) malformed('Garbage found at the end of client-final-message.');
    return { nonce, proof, withoutProof: text.slice(0, proofStart) };
  }
}
