// Owns moving a client onto TLS before its StartupMessage: the answer to SSLRequest, a
// PostgreSQL 17 direct ClientHello, the handshake and its checks (PgBouncer's sbuf_tls_accept).
// The contexts and the checks themselves are lib/auth/tls's.

import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import { log, type LogSubject } from '../log';
import { acceptTls, activeTls, describeTls, handshakeProblem, offersTls, TLS_HANDSHAKE_RECORD } from '../auth/tls';
import { listen, type SocketOwner } from './socket-events';
import type { ClientSocket } from './client-socket';

/** The connection as its TLS upgrade sees it (ClientConnection). */
export interface TlsClient extends SocketOwner, LogSubject {
  /** Speaks through its TLS socket after the upgrade. */
  readonly socket: ClientSocket;
  /** Set once the handshake is done. */
  tlsInfo: string;
  fail(error: ErrorFields): void;
  close(reason: string, flush?: boolean): void;
}

/** The one-byte answer to SSLRequest and GSSENCRequest: no encryption. */
const NO_ENCRYPTION = Buffer.from('N');

/** The answer to SSLRequest when TLS is configured: the handshake follows. */
const ACCEPT_TLS = Buffer.from('S');

/** Whether `chunk`, the connection's very first bytes, is a direct TLS ClientHello that pgmux takes. */
export function isDirectTls(client: TlsClient, chunk: Buffer): boolean {
  return chunk[0] === TLS_HANDSHAKE_RECORD && client.socket.bytesRead === chunk.length && offersTls(client.socket);
}

/** Answers an SSLRequest; `trailing` when bytes came behind it in the same read. */
export function answerSslRequest(client: TlsClient, trailing: boolean): void {
  // Bytes behind it came before any handshake, so a man in the middle may have put them
  // there (CVE-2021-23214): PostgreSQL and PgBouncer refuse, and so does pgmux.
  if (trailing) {
    client.fail(refusals.protocolViolation('received unencrypted data after SSL request'));
    return;
  }
  if (client.socket.tls !== null) client.close('SSL req inside SSL');
  else if (offersTls(client.socket)) {
    client.socket.write(ACCEPT_TLS);
    upgradeToTls(client, null);
  } else client.socket.write(NO_ENCRYPTION);
}

/** Answers a GSSENCRequest ('N': pgmux has no GSS encryption); `trailing` as for answerSslRequest. */
export function answerGssRequest(client: TlsClient, trailing: boolean): void {
  // The same injection as behind an SSLRequest: PostgreSQL and PgBouncer refuse it with this text.
  if (trailing) client.fail(refusals.protocolViolation('received unencrypted data after GSSAPI encryption request'));
  else client.socket.write(NO_ENCRYPTION);
}

/**
 * Moves the client onto TLS: after 'S' to an SSLRequest (head null), or for a direct
 * ClientHello already read (head). The StartupMessage is then read from the TLS socket.
 */
export function upgradeToTls(client: TlsClient, head: Buffer | null): void {
  const secure = acceptTls(client.socket.streamForTls(), activeTls().client, head);
  client.socket.useTls(secure);
  secure.once('secure', () => {
    const problem = handshakeProblem(secure, head !== null);
    if (problem === null) {
      client.tlsInfo = describeTls(secure);
      return;
    }
    log.warn(`TLS handshake refused: ${problem}`, client);
    client.fail(refusals.protocolViolation(problem));
  });
  // Errors during the handshake (no certificate, wrong CA, no common protocol) are logged, as PgBouncer's.
  secure.once('error', (err) => {
    if (client.tlsInfo === '') log.warn(`TLS handshake error: ${err.message}`, client);
  });
  listen(secure, client);
}
