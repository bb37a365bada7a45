// Owns the meaning of PgBouncer's TLS setting values in node:tls terms: the *_tls_protocols
// list (libusual's tls_config_parse_protocols) and the *_tls_ciphers aliases (libusual's
// tls_config_set_ciphers), the dheparams/ecdhcurve words, and the order of the sslmodes.
//
// Pure: strings in, node:tls option values out, or a TlsSetupError naming the setting.

import { constants } from 'node:crypto';
import * as tls from 'node:tls';

/** A [pgbouncer] setting cannot be turned into a TLS context; the message names the setting. */
export class TlsSetupError extends Error {}

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

const MODE_RANK: Record<SslMode, number> = { disable: 0, allow: 1, prefer: 2, require: 3, 'verify-ca': 4, 'verify-full': 5 };

/** require, verify-ca and verify-full: no plain-text fallback. */
export function requiresTls(mode: SslMode): boolean {
  return MODE_RANK[mode] >= MODE_RANK.require;
}

/** verify-ca and verify-full: the peer's certificate must chain to the CA. */
export function verifiesPeer(mode: SslMode): boolean {
  return MODE_RANK[mode] >= MODE_RANK['verify-ca'];
}

// ---- protocols ----

const V10 = 1;
const V11 = 2;
const V12 = 4;
const V13 = 8;

/** libusual's words: "tlsv1" is every 1.x, "secure"/"default" is 1.2+1.3, "all"/"legacy" everything. */
const PROTOCOL_WORDS: Record<string, number> = {
  'tlsv1.0': V10,
  'tlsv1.1': V11,
  'tlsv1.2': V12,
  'tlsv1.3': V13,
  tlsv1: V10 | V11 | V12 | V13,
  all: V10 | V11 | V12 | V13,
  legacy: V10 | V11 | V12 | V13,
  secure: V12 | V13,
  default: V12 | V13,
};

const VERSIONS: readonly { bit: number; name: tls.SecureVersion; noOption: number }[] = [
  { bit: V10, name: 'TLSv1', noOption: constants.SSL_OP_NO_TLSv1 },
  { bit: V11, name: 'TLSv1.1', noOption: constants.SSL_OP_NO_TLSv1_1 },
  { bit: V12, name: 'TLSv1.2', noOption: constants.SSL_OP_NO_TLSv1_2 },
  { bit: V13, name: 'TLSv1.3', noOption: constants.SSL_OP_NO_TLSv1_3 },
];

export interface ProtocolOptions {
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  /** SSL_OP_NO_* bits for versions inside min..max that the list leaves out (e.g. "tlsv1.0,tlsv1.2"). */
  secureOptions: number;
}

/**
 * A protocols value: words separated by ',' or ':', each optionally prefixed by '!' to remove
 * it (a list starting with '!' starts from "all"), case-insensitive. Empty means "secure", as
 * PgBouncer leaves libtls's default then.
 */
export function parseProtocols(value: string, setting: string): ProtocolOptions {
  let set = 0;
  const text = value.trim() === '' ? 'secure' : value;
  for (const raw of text.split(/[,:]/)) {
    let word = raw.trim().toLowerCase();
    const negate = word.startsWith('!');
    if (negate) {
      word = word.slice(1);
      if (set === 0) set = PROTOCOL_WORDS.all;
    }
    const bits = PROTOCOL_WORDS[word];
    if (bits === undefined) throw new TlsSetupError(`invalid ${setting}: ${value}`);
    set = negate ? set & ~bits : set | bits;
  }
  const chosen = VERSIONS.filter((v) => (set & v.bit) !== 0);
  if (chosen.length === 0) throw new TlsSetupError(`invalid ${setting}: ${value} allows no TLS version`);
  const first = VERSIONS.indexOf(chosen[0]);
  const last = VERSIONS.indexOf(chosen[chosen.length - 1]);
  let secureOptions = 0;
  for (let i = first; i <= last; i++) if ((set & VERSIONS[i].bit) === 0) secureOptions |= VERSIONS[i].noOption;
  return { minVersion: VERSIONS[first].name, maxVersion: VERSIONS[last].name, secureOptions };
}

// ---- ciphers ----

/** libusual's cipher aliases (TLS 1.2 and older; OpenSSL syntax). "fast" is PgBouncer's default. */
export const CIPHER_ALIASES: Readonly<Record<string, string>> = {
  default: 'HIGH+EECDH:HIGH+EDH:!SSLv3:!SHA384:!SHA256:!DSS:!aNULL',
  secure: 'HIGH+EECDH:HIGH+EDH:!SSLv3:!SHA384:!SHA256:!DSS:!aNULL',
  compat: 'HIGH:+3DES:!aNULL',
  legacy: 'HIGH:+3DES:!aNULL',
  insecure: 'ALL:!aNULL:!eNULL',
  all: 'ALL:!aNULL:!eNULL',
  normal: 'HIGH+EECDH:HIGH+EDH:HIGH+RSA:+SHA384:+SHA256:+SSLv3:+EDH:+RSA:-3DES:3DES+RSA:!CAMELLIA:!DSS:!aNULL',
  fast: 'HIGH+EECDH:HIGH+EDH:HIGH+RSA:+AES256:+SHA256:+SHA384:+SSLv3:+EDH:+RSA:-3DES:3DES+RSA:!CAMELLIA:!DSS:!aNULL',
};

/** node's default TLS 1.3 suites (the TLS_* entries of tls.DEFAULT_CIPHERS). */
const TLS13_SUITES = tls.DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_'));

/**
 * The node `ciphers` string for a ciphers value: an alias or an OpenSSL list for TLS 1.2 and
 * older. libtls leaves TLS 1.3 suites at OpenSSL's default whatever the list says, but node
 * takes both from one string and turns TLS 1.3 off when it holds no TLS_* suite, so node's
 * default TLS 1.3 suites are added unless the value names some itself. Empty means libtls's
 * own default, the "secure" alias.
 */
export function nodeCiphers(value: string): string {
  const text = value.trim();
  const list = text === '' ? (CIPHER_ALIASES.secure as string) : (CIPHER_ALIASES[text.toLowerCase()] ?? text);
  if (list.split(':').some((c) => c.startsWith('TLS_'))) return list;
  return [...TLS13_SUITES, list].join(':');
}

// ---- key exchange ----

/** client_tls_dheparams: none (no DHE), auto or legacy (OpenSSL picks the group; 1024-bit is refused by OpenSSL 3 anyway). */
export function dhparamOption(value: string): 'auto' | undefined {
  switch (value.trim().toLowerCase()) {
    case 'none':
      return undefined;
    case 'auto':
    case 'legacy':
      return 'auto';
    default:
      throw new TlsSetupError(`invalid client_tls_dheparams: ${value}`);
  }
}

/** client_tls_ecdhcurve: auto, or an OpenSSL curve name (checked when the context is made). */
export function ecdhCurveOption(value: string): string {
  const text = value.trim();
  if (text.toLowerCase() === 'none') throw new TlsSetupError('client_tls_ecdhcurve = none is not supported by pgmux; use auto or a curve name');
  return text === '' ? 'auto' : text;
}
