// Owns TLS on both sides (PgBouncer's sbuf_tls_setup and friends): the client_tls_* and
// server_tls_* settings made into node:tls contexts, the applied sslmode of each side, the
// upgrade of a client socket (after SSLRequest, or a PostgreSQL 17 direct ClientHello) and of a
// server socket (after 'S'), and the certificate check of auth_type = cert.
//
// The applied setup is process-wide, like PgBouncer's globals: pgmux.ts installs it at start and
// on RELOAD, keeping the old one when the new settings cannot be loaded, and a connection reads
// it when it negotiates. Pools and connections therefore need no plumbing for it.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Settings } from '../config';
import {
  dhparamOption,
  ecdhCurveOption,
  nodeCiphers,
  parseProtocols,
  requiresTls,
  TlsSetupError,
  verifiesPeer,
  type SslMode,
} from './tls-options';

export { requiresTls, TlsSetupError, type SslMode } from './tls-options';

/** pgmux as the TLS server its clients connect to. */
export interface ClientSideTls {
  readonly mode: SslMode;
  /** null when mode is disable: SSLRequest gets 'N'. */
  readonly context: tls.SecureContext | null;
  /** Ask clients for a certificate: client_tls_ca_file is set (a certificate presented must then verify). */
  readonly requestCert: boolean;
  /** verify-ca, verify-full: a client without a valid certificate fails the handshake. */
  readonly requireCert: boolean;
}

/** pgmux as a TLS client of its servers. */
export interface ServerSideTls {
  readonly mode: SslMode;
  /** null when mode is disable: no SSLRequest is sent. */
  readonly context: tls.SecureContext | null;
}

export interface TlsSetup {
  readonly client: ClientSideTls;
  readonly server: ServerSideTls;
}

/** ALPN protocol name of PostgreSQL 17 (required for direct TLS, offered for negotiated TLS too). */
export const ALPN_POSTGRESQL = 'postgresql';

const DISABLED: TlsSetup = {
  client: { mode: 'disable', context: null, requestCert: false, requireCert: false },
  server: { mode: 'disable', context: null },
};

let applied: TlsSetup = DISABLED;

/** The TLS setup connections use from now on (pgmux.ts: at start and on RELOAD). */
export function installTls(setup: TlsSetup): void {
  applied = setup;
}

export function activeTls(): TlsSetup {
  return applied;
}

/**
 * Reads the files and builds both sides' contexts. Throws TlsSetupError with what to change;
 * the checks and their texts are PgBouncer's where it has them.
 */
export function buildTlsSetup(s: Settings): TlsSetup {
  const clientMode: SslMode = s.client_tls_sslmode;
  const serverMode: SslMode = s.server_tls_sslmode;
  if (clientMode !== 'disable' && (s.client_tls_key_file === '' || s.client_tls_cert_file === '')) {
    throw new TlsSetupError('To allow TLS connections from clients, client_tls_key_file and client_tls_cert_file must be set.');
  }
  if (s.auth_type === 'cert') {
    if (!verifiesPeer(clientMode)) throw new TlsSetupError('auth_type=cert requires client_tls_sslmode=verify-ca or verify-full');
    if (s.client_tls_ca_file === '') throw new TlsSetupError('auth_type=cert requires client_tls_ca_file');
  } else if (clientMode === 'verify-full' && s.client_tls_ca_file === '') {
    throw new TlsSetupError('client_tls_sslmode requires client_tls_ca_file');
  }
  if ((s.server_tls_key_file === '') !== (s.server_tls_cert_file === '') && serverMode !== 'disable') {
    throw new TlsSetupError('server_tls_key_file and server_tls_cert_file must be set together');
  }
  const client: ClientSideTls =
    clientMode === 'disable'
      ? DISABLED.client
      : {
          mode: clientMode,
          context: makeContext('client_tls', {
            protocols: s.client_tls_protocols,
            ciphers: s.client_tls_ciphers,
            key: s.client_tls_key_file,
            cert: s.client_tls_cert_file,
            ca: s.client_tls_ca_file,
            dhparam: dhparamOption(s.client_tls_dheparams),
            ecdhCurve: ecdhCurveOption(s.client_tls_ecdhcurve),
          }),
          requestCert: s.client_tls_ca_file !== '' || verifiesPeer(clientMode),
          requireCert: verifiesPeer(clientMode),
        };
  const server: ServerSideTls =
    serverMode === 'disable'
      ? DISABLED.server
      : {
          mode: serverMode,
          context: makeContext('server_tls', {
            protocols: s.server_tls_protocols,
            ciphers: s.server_tls_ciphers,
            key: s.server_tls_key_file,
            cert: s.server_tls_cert_file,
            ca: s.server_tls_ca_file,
            dhparam: undefined,
            ecdhCurve: 'auto',
          }),
        };
  return { client, server };
}

interface ContextSettings {
  protocols: string;
  ciphers: string;
  key: string;
  cert: string;
  ca: string;
  dhparam: 'auto' | undefined;
  ecdhCurve: string;
}

function makeContext(prefix: 'client_tls' | 'server_tls', c: ContextSettings): tls.SecureContext {
  const options: tls.SecureContextOptions = {
    ...parseProtocols(c.protocols, `${prefix}_protocols`),
    ciphers: nodeCiphers(c.ciphers),
    ecdhCurve: c.ecdhCurve,
  };
  if (c.dhparam !== undefined) options.dhparam = c.dhparam;
  if (c.ca !== '') options.ca = readPem(`${prefix}_ca_file`, c.ca);
  if (c.key !== '') options.key = readPem(`${prefix}_key_file`, c.key);
  if (c.cert !== '') options.cert = readPem(`${prefix}_cert_file`, c.cert);
  try {
    return tls.createSecureContext(options);
  } catch (err) {
    throw new TlsSetupError(`${prefix} settings rejected by OpenSSL: ${(err as Error).message}`);
  }
}

function readPem(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TlsSetupError(`invalid ${setting}: ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

// ---- client side ----

/** The first byte of a TLS handshake record: a client starting TLS without SSLRequest. */
export const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * Wraps an accepted client socket in TLS. `head` holds bytes already read from it (a direct
 * ClientHello): they are put back first, and node's TLSSocket reads a wrapped socket's
 * buffered bytes before anything else. The caller moves its listeners to the result.
 */
export function acceptTls(raw: net.Socket, side: ClientSideTls, head: Buffer | null): tls.TLSSocket {
  if (head !== null) {
    raw.pause();
    raw.unshift(head);
  }
  return new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: side.context ?? undefined,
    requestCert: side.requestCert,
    rejectUnauthorized: side.requireCert,
    ALPNProtocols: [ALPN_POSTGRESQL],
  });
}

/**
 * Why a finished client handshake may not go on, or null. A certificate that was presented must
 * verify even when none was required (PostgreSQL and PgBouncer fail the handshake then; node
 * lets it finish, so it is refused here). A direct TLS connection must have negotiated ALPN
 * "postgresql", PostgreSQL 17's guard against cross-protocol attacks.
 */
export function handshakeProblem(socket: tls.TLSSocket, direct: boolean): string | null {
  const rejected = hasPeerCertificate(socket) ? peerVerifyError(socket) : null;
  if (rejected !== null) return `client certificate rejected: ${rejected}`;
  if (direct && socket.alpnProtocol !== ALPN_POSTGRESQL) {
    return 'received direct SSL connection request without ALPN protocol negotiation extension';
  }
  return null;
}

/** A client connection as the checks below see it (lib/client/client-socket). */
export interface ClientEnd {
  /** Undefined for a unix-socket client. */
  readonly remoteAddress: string | undefined;
  /** Its TLS socket once upgraded, else null. */
  readonly tls: tls.TLSSocket | null;
}

/** Whether a client on `socket` must be refused for not using TLS (PgBouncer: never over a unix socket). */
export function plainLoginRefused(socket: ClientEnd): boolean {
  return requiresTls(applied.client.mode) && socket.tls === null && socket.remoteAddress !== undefined;
}

/** Whether pgmux takes TLS on `socket`: configured, plain TCP so far (PgBouncer: never over a unix socket). */
export function offersTls(socket: ClientEnd): boolean {
  return applied.client.context !== null && socket.tls === null && socket.remoteAddress !== undefined;
}

function hasPeerCertificate(socket: tls.TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && Object.keys(cert).length > 0;
}

/**
 * Why the peer's certificate chain did not verify against the context's CAs (an OpenSSL code
 * such as UNABLE_TO_VERIFY_LEAF_SIGNATURE), or null when it did. node fills in `authorized`
 * only for sockets a tls.Server accepted; for a TLSSocket made by hand after SSLRequest it must
 * be asked of the handle, as tls.Server itself does (its onServerSocketSecure). OpenSSL lets
 * the handshake finish either way: node checks the result afterwards, and so does pgmux.
 */
function peerVerifyError(socket: tls.TLSSocket): string | null {
  const handle: unknown = Reflect.get(socket, '_handle');
  const verify: unknown = typeof handle === 'object' && handle !== null ? Reflect.get(handle, 'verifyError') : undefined;
  if (typeof verify !== 'function') return 'cannot check the certificate (no TLS handle)';
  const err: unknown = Reflect.apply(verify, handle, []);
  if (err === null || err === undefined) return null;
  return String(Reflect.get(err as object, 'code') ?? err);
}

/**
 * auth_type = cert (and hba `cert`): why the client on `socket` may not log in as `user`, or
 * null when it may: TLS, a certificate that verified against client_tls_ca_file, and a subject
 * CN equal to the user name (as PostgreSQL's cert method without a user map).
 */
export function certLoginProblem(end: ClientEnd, user: string): string | null {
  const socket = end.tls;
  if (socket === null) return 'TLS connection required';
  if (!hasPeerCertificate(socket)) return 'TLS client certificate required';
  const untrusted = peerVerifyError(socket);
  if (untrusted !== null) return `TLS client certificate not trusted: ${untrusted}`;
  const cn: unknown = socket.getPeerCertificate().subject?.CN;
  if (cn !== user) return `TLS certificate name mismatch: CN ${JSON.stringify(cn ?? null)}, user "${user}"`;
  return null;
}

// ---- server side ----

/** The answers to pgmux's SSLRequest. */
export const SslAnswer = { Accept: 0x53 /* 'S' */, Refuse: 0x4e /* 'N' */ } as const;

/**
 * Wraps a server socket that answered 'S' in TLS. verify-ca and verify-full check the chain
 * against server_tls_ca_file (or node's CAs); verify-full also checks `host` against the
 * certificate's names (IP SANs for an address). Weaker modes encrypt without checking, as
 * PgBouncer's. SNI is sent only for host names: RFC 6066 forbids it for addresses.
 */
export function connectTls(raw: net.Socket, side: ServerSideTls, host: string): tls.TLSSocket {
  const options: tls.ConnectionOptions = {
    socket: raw,
    secureContext: side.context ?? undefined,
    rejectUnauthorized: verifiesPeer(side.mode),
    checkServerIdentity: side.mode === 'verify-full' ? (_name, cert) => tls.checkServerIdentity(host, cert) : () => undefined,
  };
  if (net.isIP(host) === 0) options.servername = host;
  return tls.connect(options);
}

// ---- both ----

/** PgBouncer's tls_get_connection_info shape: "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519". */
export function describeTls(socket: tls.TLSSocket): string {
  const parts = [socket.getProtocol() ?? 'TLS', socket.getCipher().name];
  // Only the client end of a connection learns the key exchange (node returns {} on the server end).
  const kx = socket.getEphemeralKeyInfo();
  if (kx !== null && 'type' in kx && kx.type !== undefined) parts.push(`${kx.type}=${kx.name ?? kx.size ?? ''}`);
  return parts.join('/');
}
