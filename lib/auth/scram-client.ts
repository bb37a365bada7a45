// Owns SCRAM-SHA-256 with pgmux as the client: logging in to a PostgreSQL server.
//
// One ScramClient per server login: initialResponse(), serverFirst(), serverFinal(). Like libpq
// and PgBouncer it sends an empty user name (the server uses the startup packet's) and no
// channel binding ("n,,"). Errors from the server's side of the exchange throw ScramError.

import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  AttrReader,
  SCRAM_KEY_LENGTH,
  SCRAM_MECHANISM,
  SCRAM_NONCE_BYTES,
  ScramError,
  authMessage,
  decodeBase64,
  deriveScramKeys,
  hmac,
  isPrintable,
  safeEqual,
  sha256,
  xor,
} from './scram-common';

/**
 * How pgmux proves itself: the password (from auth_file or the connection string), or the
 * ClientKey/ServerKey a ScramServer recovered from the client's own login, which work only
 * against a server whose verifier has the same salt and iteration count.
 */
export type ScramCredential = { password: string } | { clientKey: Buffer; serverKey: Buffer };

interface ProofKeys {
  readonly clientKey: Buffer;
  readonly serverKey: Buffer;
}

/**
 * Derived keys per (iterations, salt, password), as PgBouncer caches them per user. A pool opens
 * many server connections with the same password and the server sends the same salt each time;
 * PBKDF2 would otherwise block the event loop for a millisecond per 4096 iterations on every
 * login. Bounded, in this process's memory only, never logged. A changed password (RELOAD) or
 * a new salt (ALTER ROLE) is another key, so it derives again.
 */
const derivedKeys = new LRUCache<string, ProofKeys>({ max: 256 });

function keysFor(password: string, salt: Buffer, iterations: number): ProofKeys {
  const key = `${iterations}\0${salt.toString('base64')}\0${password}`;
  let keys = derivedKeys.get(key);
  if (keys === undefined) {
    ScramClient.derivations++;
    const { clientKey, serverKey } = deriveScramKeys(password, salt, iterations);
    keys = { clientKey, serverKey };
    derivedKeys.set(key, keys);
  }
  return keys;
}

/** RFC 5802 saslname: ',' and '=' are escaped as =2C and =3D. */
function saslname(user: string): string {
  return Buffer.from(user, 'utf8').toString('latin1').replace(/=/g, '=3D').replace(/,/g, '=2C');
}

type Phase = 'initial' | 'sent-first' | 'sent-final' | 'done';

export class ScramClient {
  /** PBKDF2 runs for password logins since the process started (the key cache's misses); specs read it. */
  static derivations = 0;

  private phase: Phase = 'initial';
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer = Buffer.alloc(0);

  /**
   * @param opts.nonce fixed client nonce and opts.user the n= name, for test vectors only
   */
  constructor(
    private readonly cred: ScramCredential,
    opts: { nonce?: string; user?: string } = {},
  ) {
    this.clientNonce = opts.nonce ?? randomBytes(SCRAM_NONCE_BYTES).toString('base64');
    this.clientFirstBare = `n=${saslname(opts.user ?? '')},r=${this.clientNonce}`;
  }

  /** SASLInitialResponse contents, once the server listed SCRAM-SHA-256 in AuthenticationSASL. */
  initialResponse(): { mechanism: 'SCRAM-SHA-256'; data: Buffer } {
    this.advance('initial', 'sent-first');
    return { mechanism: SCRAM_MECHANISM, data: Buffer.from(`n,,${this.clientFirstBare}`, 'latin1') };
  }

  /** Takes AuthenticationSASLContinue data; returns client-final-message for SASLResponse. */
  serverFirst(data: Buffer): Buffer {
    this.advance('sent-first', 'sent-final');
    const serverFirst = data.toString('latin1');
    const { nonce, salt, iterations } = this.readServerFirst(serverFirst);
    const keys = 'password' in this.cred ? keysFor(this.cred.password, salt, iterations) : this.cred;
    const withoutProof = `c=biws,r=${nonce}`;
    const message = authMessage(this.clientFirstBare, serverFirst, withoutProof);
    const proof = xor(keys.clientKey, hmac(sha256(keys.clientKey), message));
    this.expectedServerSignature = hmac(keys.serverKey, message);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'latin1');
  }

  /** Takes AuthenticationSASLFinal data; throws unless the server proved it knows the verifier. */
  serverFinal(data: Buffer): void {
    this.advance('sent-final', 'done');
    const r = new AttrReader(data.toString('latin1'));
    if (r.peek() === 'e') {
      throw new ScramError('error received from server in SCRAM exchange', r.expect('e'));
    }
    const signature = decodeBase64(r.expect('v'));
    if (signature?.length !== SCRAM_KEY_LENGTH) {
      throw new ScramError('malformed SCRAM message', 'Malformed server signature.');
    }
    if (!r.atEnd) throw new ScramError('malformed SCRAM message', 'Garbage at end of server-final-message.');
    if (!safeEqual(signature, this.expectedServerSignature)) {
      throw new ScramError('incorrect server signature');
    }
  }

  private advance(from: Phase, to: Phase): void {
    if (this.phase !== from) throw new ScramError('SCRAM message out of order', `Expected it in phase ${from}.`);
    this.phase = to;
  }

  /** r=<client nonce + server nonce>,s=<salt>,i=<iterations>, as libpq's read_server_first_message. */
  private readServerFirst(text: string): { nonce: string; salt: Buffer; iterations: number } {
    const r = new AttrReader(text);
    const nonce = r.expect('r');
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !isPrintable(nonce)) {
      throw new ScramError('invalid SCRAM response', 'Nonce mismatch.');
    }
    // Any salt length: PostgreSQL uses 16 bytes, but verifiers set with ALTER ROLE may differ.
    const salt = decodeBase64(r.expect('s'));
    if (salt === undefined) throw new ScramError('malformed SCRAM message', 'Invalid salt.');
    const iterationText = r.expect('i');
    const iterations = Number(iterationText);
    if (!/^[1-9][0-9]*$/.test(iterationText) || iterations > 0x7fffffff) {
      throw new ScramError('malformed SCRAM message', 'Invalid iteration count.');
    }
    if (!r.atEnd) throw new ScramError('malformed SCRAM message', 'Garbage at end of server-first-message.');
    return { nonce, salt, iterations };
  }
}
