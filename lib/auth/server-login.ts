// Owns pgmux's own login to a PostgreSQL server: the authentication exchange (cleartext, md5,
// SCRAM-SHA-256) and collecting ParameterStatus and BackendKeyData until the first ReadyForQuery.
//
// Pure: frames in, bytes to send and an outcome out, no sockets. It lives in auth (not server)
// so that every connection pgmux makes as a client can log in with it: ServerConnection, the lag
// tracker's MonitorClient (routing) and auth_query's lookup, without those depending on server/.

import { BackendCode } from '../protocol/codes';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
  type ErrorFields,
} from '../protocol/backend';
import { passwordMessage, saslInitialResponse, saslResponse } from '../protocol/frontend';
import { md5Response } from './md5';
import { ScramClient } from './scram-client';
import type { Secret } from './secret';

/** What pgmux may use to prove itself to a server. */
export type ServerCredential =
  | { kind: 'none' }
  | { kind: 'secret'; secret: Secret }
  /** A client's SCRAM keys, when the userlist holds only a SCRAM secret (PgBouncer's trick). */
  | { kind: 'scram-keys'; clientKey: Buffer; serverKey: Buffer };

export type LoginStep =
  | { kind: 'continue' }
  | { kind: 'send'; bytes: Buffer }
  | { kind: 'done'; pid: number; secret: number; txStatus: number }
  | { kind: 'failed'; error: ErrorFields };

/** Feeds server frames during login; answers what to send back and when login is over. */
export class ServerLogin {
  readonly params = new Map<string, string>();
  private pid = 0;
  private secret = 0;
  private scram: ScramClient | null = null;

  constructor(
    private readonly user: string,
    private readonly credential: ServerCredential,
  ) {}

  onFrame(type: number, buf: Buffer, start: number, end: number): LoginStep {
    switch (type) {
      case BackendCode.Authentication:
        return this.onAuthentication(buf, start, end);
      case BackendCode.ParameterStatus: {
        const p = decodeParameterStatus(buf, start, end);
        if (p.kind !== 'invalid') this.params.set(p.name, p.value);
        return { kind: 'continue' };
      }
      case BackendCode.BackendKeyData: {
        const k = decodeBackendKeyData(buf, start, end);
        if (k.kind !== 'invalid') {
          this.pid = k.pid;
          this.secret = k.secret;
        }
        return { kind: 'continue' };
      }
      case BackendCode.ReadyForQuery:
        return { kind: 'done', pid: this.pid, secret: this.secret, txStatus: buf[start + 5] };
      case BackendCode.ErrorResponse:
        const fields = decodeErrorFields(buf, start, end);
        return { kind: 'failed', error: fields.kind === 'invalid' ? fallbackError(fields.reason) : fields };
      case BackendCode.NoticeResponse:
      case BackendCode.NegotiateProtocolVersion:
        return { kind: 'continue' };
      default:
        return { kind: 'failed', error: fallbackError(`unexpected message 0x${type.toString(16)} during login`) };
    }
  }

  private onAuthentication(buf: Buffer, start: number, end: number): LoginStep {
    const auth = decodeAuthentication(buf, start, end);
    if (auth.kind === 'invalid') return { kind: 'failed', error: fallbackError(auth.reason) };
    switch (auth.kind) {
      case 'auth-ok':
        return { kind: 'continue' };
      case 'auth-cleartext': {
        const password = this.plainPassword();
        if (password === undefined) return this.noPassword('cleartext');
        return { kind: 'send', bytes: passwordMessage(password) };
      }
      case 'auth-md5': {
        const c = this.credential;
        if (c.kind !== 'secret' || c.secret.kind === 'scram') return this.noPassword('md5');
        const source = c.secret.kind === 'plain' ? c.secret.password : c.secret.hash;
        return { kind: 'send', bytes: passwordMessage(md5Response(source, this.user, auth.salt)) };
      }
      case 'auth-sasl': {
        if (!auth.mechanisms.includes('SCRAM-SHA-256')) {
          return { kind: 'failed', error: fallbackError(`server offers no supported SASL mechanism (${auth.mechanisms.join(', ')})`) };
        }
        const c = this.credential;
        if (c.kind === 'scram-keys') this.scram = new ScramClient({ clientKey: c.clientKey, serverKey: c.serverKey });
        else {
          const password = this.plainPassword();
          if (password === undefined) return this.noPassword('SCRAM');
          this.scram = new ScramClient({ password });
        }
        const first = this.scram.initialResponse();
        return { kind: 'send', bytes: saslInitialResponse(first.mechanism, first.data) };
      }
      case 'auth-sasl-continue': {
        if (this.scram === null) return { kind: 'failed', error: fallbackError('SASLContinue without SASL') };
        try {
          return { kind: 'send', bytes: saslResponse(this.scram.serverFirst(auth.data)) };
        } catch (err) {
          return { kind: 'failed', error: fallbackError(`SCRAM exchange failed: ${(err as Error).message}`) };
        }
      }
      case 'auth-sasl-final': {
        try {
          this.scram?.serverFinal(auth.data);
        } catch (err) {
          return { kind: 'failed', error: fallbackError(`server SCRAM signature invalid: ${(err as Error).message}`) };
        }
        return { kind: 'continue' };
      }
      case 'auth-unsupported':
        return { kind: 'failed', error: fallbackError(`unsupported server authentication request ${auth.code}`) };
    }
  }

  private plainPassword(): string | undefined {
    const c = this.credential;
    return c.kind === 'secret' && c.secret.kind === 'plain' ? c.secret.password : undefined;
  }

  private noPassword(method: string): LoginStep {
    const what =
      this.credential.kind === 'none'
        ? `no password for user "${this.user}": set password= on the database line or add the user to auth_file`
        : `the stored secret for user "${this.user}" cannot answer a ${method} request; store the plain password in auth_file or on the database line`;
    return { kind: 'failed', error: fallbackError(`server login failed: ${what}`) };
  }
}

function fallbackError(message: string): ErrorFields {
  return { severity: 'FATAL', code: '08P01', message };
}
