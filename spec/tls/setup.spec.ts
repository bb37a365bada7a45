// Spec of how the TLS settings become node:tls options and contexts (lib/auth/tls-options.ts,
// buildTlsSetup in lib/auth/tls.ts): PgBouncer's protocol and cipher words, the checks
// PgBouncer makes before it will start, and pgmux refusing to start on them. No cluster.

import { constants } from 'node:crypto';
import * as tls from 'node:tls';
import { defaultSettings, type Settings } from '../../lib/config';
import { buildTlsSetup, TlsSetupError } from '../../lib/auth/tls';
import { CIPHER_ALIASES, nodeCiphers, parseProtocols } from '../../lib/auth/tls-options';
import { freePort } from '../support/ports';
import { startPgmux } from '../support/pgmux';
import { makePki, type Pki } from './support/pki';

let pki: Pki;

beforeAll(async () => {
  pki = await makePki();
});

afterAll(() => pki?.remove());

function settings(over: Partial<Record<keyof Settings, string>>): Settings {
  return { ...defaultSettings(), ...over } as Settings;
}

function setupError(s: Settings): string {
  try {
    buildTlsSetup(s);
  } catch (err) {
    expect(err).toBeInstanceOf(TlsSetupError);
    return (err as Error).message;
  }
  throw new Error('buildTlsSetup did not throw');
}

describe('client_tls_protocols / server_tls_protocols', () => {
  /** Bug caught: "secure" (the default) letting TLS 1.0/1.1 in, or shutting 1.3 out. */
  it('maps secure and an empty value to TLS 1.2 ... 1.3', () => {
    for (const v of ['secure', 'default', '', 'SECURE']) {
      expect(parseProtocols(v, 'client_tls_protocols')).toEqual({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', secureOptions: 0 });
    }
  });

  /** Bug caught: "all"/"legacy" or one version mapped to the wrong range. */
  it('maps all, legacy and single versions to node min/max versions', () => {
    expect(parseProtocols('all', 'x')).toEqual({ minVersion: 'TLSv1', maxVersion: 'TLSv1.3', secureOptions: 0 });
    expect(parseProtocols('legacy', 'x')).toEqual({ minVersion: 'TLSv1', maxVersion: 'TLSv1.3', secureOptions: 0 });
    expect(parseProtocols('tlsv1.3', 'x')).toEqual({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', secureOptions: 0 });
    expect(parseProtocols('tlsv1.2, tlsv1.1', 'x')).toEqual({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.2', secureOptions: 0 });
  });

  /** Bug caught: a list with a hole ("tlsv1.0,tlsv1.2") silently allowing the version left out. */
  it('turns a hole in the list into an SSL_OP_NO_* option, and "!" removes from all', () => {
    expect(parseProtocols('tlsv1.0:tlsv1.2', 'x')).toEqual({ minVersion: 'TLSv1', maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TLSv1_1 });
    expect(parseProtocols('!tlsv1.0,!tlsv1.1', 'x')).toEqual({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', secureOptions: 0 });
  });

  /** Bug caught: a typo accepted and the default used instead; an empty set reaching OpenSSL. */
  it('refuses unknown words and a list that allows nothing, naming the setting', () => {
    expect(() => parseProtocols('tlsv1.4', 'server_tls_protocols')).toThrow('invalid server_tls_protocols: tlsv1.4');
    expect(() => parseProtocols('!all', 'client_tls_protocols')).toThrow('invalid client_tls_protocols: !all allows no TLS version');
  });
});

describe('client_tls_ciphers / server_tls_ciphers', () => {
  /** Bug caught: an alias passed to OpenSSL verbatim ("fast" matches no cipher) or mapped to the wrong list. */
  it("expands libusual's aliases, case-insensitively, and passes OpenSSL lists through", () => {
    expect(nodeCiphers('fast')).toContain(CIPHER_ALIASES.fast);
    expect(nodeCiphers('FAST')).toContain(CIPHER_ALIASES.fast);
    expect(nodeCiphers('normal')).toContain(CIPHER_ALIASES.normal);
    expect(nodeCiphers('secure')).toContain('HIGH+EECDH:HIGH+EDH:!SSLv3:!SHA384:!SHA256:!DSS:!aNULL');
    expect(nodeCiphers('ECDHE-ECDSA-AES128-GCM-SHA256')).toContain('ECDHE-ECDSA-AES128-GCM-SHA256');
  });

  /**
   * Bug caught: TLS 1.3 silently switched off. node takes TLS 1.3 suites from the same string
   * and disables 1.3 when it names none; libtls's cipher list never touches 1.3.
   */
  it('keeps node\'s TLS 1.3 suites unless the value names TLS_* suites itself', () => {
    const suites = nodeCiphers('fast').split(':').filter((c) => c.startsWith('TLS_'));
    expect(suites.length).toBeGreaterThan(0);
    expect(tls.DEFAULT_CIPHERS.split(':')).toEqual(expect.arrayContaining(suites));
    expect(nodeCiphers('TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256')).toBe('TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256');
  });
});

describe('buildTlsSetup', () => {
  /** Bug caught: the default config (TLS off) building contexts or demanding files. */
  it('is off on both sides with the default settings', () => {
    const setup = buildTlsSetup(defaultSettings());
    expect(setup.client).toMatchObject({ mode: 'disable', context: null });
    expect(setup.server).toMatchObject({ mode: 'disable', context: null });
  });

  /** Bug caught: each side built from the other side's settings, or verify modes not requiring a client certificate. */
  it('builds both sides from their own settings', () => {
    const setup = buildTlsSetup(
      settings({
        client_tls_sslmode: 'verify-ca', client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server'),
        client_tls_ca_file: pki.cert('ca'), server_tls_sslmode: 'require',
      }),
    );
    expect(setup.client).toMatchObject({ mode: 'verify-ca', requestCert: true, requireCert: true });
    expect(setup.client.context).not.toBeNull();
    expect(setup.server.mode).toBe('require');
    expect(setup.server.context).not.toBeNull();
    const prefer = buildTlsSetup(settings({ client_tls_sslmode: 'prefer', client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server') }));
    expect(prefer.client).toMatchObject({ mode: 'prefer', requestCert: false, requireCert: false });
  });

  /** Bug caught: pgmux starting a TLS mode it cannot serve; the texts are PgBouncer's sbuf_tls_setup checks. */
  it("refuses what PgBouncer refuses, with PgBouncer's words", () => {
    expect(setupError(settings({ client_tls_sslmode: 'require' }))).toBe(
      'To allow TLS connections from clients, client_tls_key_file and client_tls_cert_file must be set.',
    );
    const withKey = { client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server') };
    expect(setupError(settings({ ...withKey, client_tls_sslmode: 'verify-full' }))).toBe('client_tls_sslmode requires client_tls_ca_file');
    expect(setupError(settings({ ...withKey, auth_type: 'cert', client_tls_sslmode: 'require' }))).toBe(
      'auth_type=cert requires client_tls_sslmode=verify-ca or verify-full',
    );
    expect(setupError(settings({ ...withKey, auth_type: 'cert', client_tls_sslmode: 'verify-ca' }))).toBe('auth_type=cert requires client_tls_ca_file');
  });

  /** Bug caught: a missing or wrong file surfacing as a bare ENOENT or an OpenSSL error without the setting's name. */
  it('names the setting whose file or value is wrong', () => {
    expect(setupError(settings({ server_tls_sslmode: 'verify-full', server_tls_ca_file: `${pki.dir}/nope.crt` }))).toBe(
      `invalid server_tls_ca_file: ${pki.dir}/nope.crt: ENOENT`,
    );
    expect(setupError(settings({ server_tls_sslmode: 'require', server_tls_cert_file: pki.cert('client-app') }))).toBe(
      'server_tls_key_file and server_tls_cert_file must be set together',
    );
    // A key that does not belong to the certificate: OpenSSL says so, prefixed with the side.
    expect(
      setupError(settings({ client_tls_sslmode: 'require', client_tls_key_file: pki.key('client-app'), client_tls_cert_file: pki.cert('server') })),
    ).toMatch(/^client_tls settings rejected by OpenSSL: .*key values mismatch/);
    expect(
      setupError(settings({ client_tls_sslmode: 'require', client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server'), client_tls_ciphers: 'NOSUCHCIPHER' })),
    ).toMatch(/^client_tls settings rejected by OpenSSL: .*no cipher match/i);
  });
});

describe('pgmux start', () => {
  /** Bug caught: pgmux listening with a TLS mode it cannot honour, so clients silently get plain text or nothing. */
  it('refuses to start when the TLS settings cannot be loaded, saying why', async () => {
    const port = await freePort();
    const ini = `[databases]\napp = host=127.0.0.1 port=1 dbname=app\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = trust\nauth_file = userlist.txt\nclient_tls_sslmode = require\n`;
    const err = await startPgmux(ini, { 'userlist.txt': '"app" "x"\n' }).then(
      async (p) => {
        await p.stop();
        return new Error('pgmux started');
      },
      (e: Error) => e,
    );
    expect(err.message).toMatch(/TLS setup failed: To allow TLS connections from clients, client_tls_key_file and client_tls_cert_file must be set\./);
  });
});
