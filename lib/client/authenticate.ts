// Owns the authentication dialog between a client and pgmux: which challenge to send for the
// configured auth_type and the user's secret, and checking the answers.

import {
  authenticationCleartext,
  authenticationMD5,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
} from '../protocol/backend';
import { decodePasswordMessage, decodeSASLInitialResponse, decodeSASLResponse } from '../protocol/frontend';
import { chooseMethod, verifyCleartext, verifyCleartextScram } from '../auth/method';
import { md5Salt, verifyMd5 } from '../auth/md5';
import { ScramServer } from '../auth/scram-server';
import type { ScramSecret, Secret } from '../auth/secret';
import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';

export type AuthStep =
  /** Send these bytes and wait for the client's next 'p' message. */
  | { kind: 'send'; bytes: Buffer }
  /** Authenticated; `final` (SASLFinal) goes out before AuthenticationOk. */
  | { kind: 'ok'; final: Buffer | null; scramKeys: { clientKey: Buffer; serverKey: Buffer } | null }
  /** `refusal`: what the client is told when it is not the method's usual one (authFailed...). */
  | { kind: 'failed'; reason: string; refusal?: ErrorFields }
  /**
   * The answer is being checked off the event loop (PBKDF2 for a SCRAM secret): `result` is the
   * step it comes to, 'ok' or 'failed'. It never rejects.
   */
  | { kind: 'checking'; result: Promise<AuthStep> };

const CLEARTEXT_OK: AuthStep = { kind: 'ok', final: null, scramKeys: null };
const WRONG_PASSWORD: AuthStep = { kind: 'failed', reason: 'wrong password' };
/** PostgreSQL and PgBouncer refuse an empty password before checking it (recv_password_packet). */
const EMPTY_PASSWORD: AuthStep = { kind: 'failed', reason: 'empty password', refusal: refusals.emptyPassword() };

export class ClientAuth {
  private readonly method: ReturnType<typeof chooseMethod>;
  private salt: Buffer | null = null;
  private scram: ScramServer | null = null;
  private scramStage: 'initial' | 'final' = 'initial';

  constructor(
    authType: string,
    private readonly user: string,
    private readonly secret: Secret | undefined,
    /** Whether the client still waits for its answer to be checked (a queued PBKDF2 is skipped otherwise). */
    private readonly wanted?: () => boolean,
  ) {
    this.method = chooseMethod(authType, secret);
  }

  /** The first step: a challenge, or ok at once (trust/any), or failed (reject). */
  start(): AuthStep {
    switch (this.method) {
      case 'none':
        return { kind: 'ok', final: null, scramKeys: null };
      case 'reject':
        return { kind: 'failed', reason: this.secret === undefined ? 'no such user in auth_file' : 'auth_type cannot use this secret' };
      case 'cleartext':
        return { kind: 'send', bytes: authenticationCleartext() };
      case 'md5':
        // From the pooled CSPRNG (../auth/random): one native randomBytes call per login was 3 % of pgmux's CPU under pgbench -C.
        this.salt = md5Salt();
        return { kind: 'send', bytes: authenticationMD5(this.salt) };
      case 'scram':
        this.scram = new ScramServer(this.secret, this.user);
        return { kind: 'send', bytes: authenticationSASL(this.scram.mechanisms()) };
    }
  }

  /** The client's answer (a 'p' message, whole frame). */
  answer(buf: Buffer, start: number, end: number): AuthStep {
    switch (this.method) {
      case 'cleartext': {
        const msg = decodePasswordMessage(buf, start, end);
        if (msg.kind === 'invalid') return { kind: 'failed', reason: msg.reason };
        if (msg.password === '') return EMPTY_PASSWORD;
        if (this.secret?.kind === 'scram') return { kind: 'checking', result: this.checkScram(this.secret, msg.password) };
        return verifyCleartext(this.secret, this.user, msg.password) ? CLEARTEXT_OK : WRONG_PASSWORD;
      }
      case 'md5': {
        const msg = decodePasswordMessage(buf, start, end);
        if (msg.kind === 'invalid') return { kind: 'failed', reason: msg.reason };
        if (msg.password === '') return EMPTY_PASSWORD;
        return verifyMd5(this.secret, this.user, this.salt as Buffer, msg.password)
          ? { kind: 'ok', final: null, scramKeys: null }
          : { kind: 'failed', reason: 'wrong password' };
      }
      case 'scram':
        return this.scramAnswer(buf, start, end);
      default:
        return { kind: 'failed', reason: 'unexpected password message' };
    }
  }

  /** A cleartext password against a SCRAM secret: PBKDF2 on the thread pool, per attempt. */
  private checkScram(secret: ScramSecret, password: string): Promise<AuthStep> {
    return verifyCleartextScram(secret, password, this.wanted).then(
      (ok) => (ok === true ? CLEARTEXT_OK : ok === false ? WRONG_PASSWORD : { kind: 'failed', reason: 'client left before its password was checked' }),
      (err: Error) => ({ kind: 'failed', reason: `password check failed: ${err.message}` }),
    );
  }

  private scramAnswer(buf: Buffer, start: number, end: number): AuthStep {
    const scram = this.scram as ScramServer;
    if (this.scramStage === 'initial') {
      const msg = decodeSASLInitialResponse(buf, start, end);
      if (msg.kind === 'invalid') return { kind: 'failed', reason: msg.reason };
      if (msg.mechanism !== 'SCRAM-SHA-256') {
        return { kind: 'failed', reason: `unsupported SASL mechanism ${msg.mechanism}`, refusal: refusals.invalidSaslMechanism() };
      }
      try {
        if (msg.data === null) return { kind: 'failed', reason: 'SASLInitialResponse without client-first-message' };
        const serverFirst = scram.clientFirst(msg.data);
        this.scramStage = 'final';
        return { kind: 'send', bytes: authenticationSASLContinue(Buffer.from(serverFirst)) };
      } catch (err) {
        return { kind: 'failed', reason: `SCRAM: ${(err as Error).message}` };
      }
    }
    const msg = decodeSASLResponse(buf, start, end);
    if (msg.kind === 'invalid') return { kind: 'failed', reason: msg.reason };
    let result: ReturnType<ScramServer['clientFinal']>;
    try {
      result = scram.clientFinal(msg.data);
    } catch (err) {
      return { kind: 'failed', reason: `SCRAM: ${(err as Error).message}` };
    }
    if (!result.ok) return { kind: 'failed', reason: result.reason };
    return {
      kind: 'ok',
      final: authenticationSASLFinal(Buffer.from(result.serverFinal)),
      scramKeys: { clientKey: result.clientKey, serverKey: result.serverKey },
    };
  }
}
