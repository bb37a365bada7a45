// Owns the TLS specs' certificates: two throwaway CAs and the server and client certificates
// they sign, made with the openssl CLI (node's crypto cannot sign X.509) into a temp dir owned
// by `postgres`, so PostgreSQL can read its own certificate and key (mode 0600) from it too.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../support/child';
import { makeTempDir, removeTempDir, runAsPostgres, serverEnv, writeFiles } from '../../support/osuser';

/** A leaf certificate to make: its subject CN, its SANs, client or server use, and its issuer. */
interface LeafSpec {
  cn: string;
  san?: string;
  usage: 'server' | 'client';
  ca: 'ca' | 'other-ca';
}

/**
 * ca / other-ca       two unrelated CAs ("other" signs what must not be trusted)
 * server             CN=localhost, SAN DNS:localhost + IP:127.0.0.1, by ca
 * server-wrongname   SAN DNS:db.pgmux.invalid only, by ca (verify-ca passes, verify-full must not)
 * server-other       like server, but by other-ca
 * client-app         CN=app, by ca; client-mallory: CN=mallory, by ca; client-other: CN=app, by other-ca
 */
const LEAVES: Record<string, LeafSpec> = {
  server: { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'server', ca: 'ca' },
  'server-wrongname': { cn: 'db.pgmux.invalid', san: 'DNS:db.pgmux.invalid', usage: 'server', ca: 'ca' },
  'server-other': { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1', usage: 'server', ca: 'other-ca' },
  'client-app': { cn: 'app', usage: 'client', ca: 'ca' },
  'client-mallory': { cn: 'mallory', usage: 'client', ca: 'ca' },
  'client-other': { cn: 'app', usage: 'client', ca: 'other-ca' },
};

export type CertName = 'ca' | 'other-ca' | keyof typeof LEAVES;

export interface Pki {
  readonly dir: string;
  /** Path of <name>.crt. */
  cert(name: CertName): string;
  /** Path of <name>.key (PEM, mode 0600, owned by postgres). */
  key(name: CertName): string;
  /** PEM text of <name>.crt. */
  pem(name: CertName): string;
  /** Removes the dir. */
  remove(): void;
}

/** openssl's request config: no prompts, no dependence on the system openssl.cnf. */
const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

async function openssl(dir: string, args: string[]): Promise<void> {
  // As postgres, in its dir: the files come out owned by it, keys 0600 (openssl's own mode).
  const r = await run('openssl', args, { cwd: dir, env: serverEnv(dir), ...runAsPostgres() });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes both CAs, then every leaf; about a second of openssl runs. */
export async function makePki(): Promise<Pki> {
  const dir = makeTempDir('pgmux-tls-');
  try {
    writeFiles(dir, { 'openssl.cnf': OPENSSL_CNF });
    await Promise.all(
      (['ca', 'other-ca'] as const).map((ca) =>
        openssl(dir, ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca', ...EC_KEY, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=pgmux spec ${ca}`]),
      ),
    );
    await Promise.all(
      Object.entries(LEAVES).map(async ([name, leaf], i) => {
        const ext = leaf.san === undefined ? '' : `subjectAltName = ${leaf.san}\n`;
        writeFiles(dir, { [`${name}.ext`]: OPENSSL_CNF.replace(`[${leaf.usage}]\n`, `[${leaf.usage}]\n${ext}`) });
        await openssl(dir, ['req', '-new', '-config', 'openssl.cnf', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${leaf.cn}`]);
        await openssl(dir, [
          'x509', '-req', '-in', `${name}.csr`, '-CA', `${leaf.ca}.crt`, '-CAkey', `${leaf.ca}.key`, '-set_serial', String(1000 + i),
          '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`, '-extensions', leaf.usage,
        ]);
      }),
    );
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  return {
    dir,
    cert: (name) => join(dir, `${name}.crt`),
    key: (name) => join(dir, `${name}.key`),
    pem: (name) => readFileSync(join(dir, `${name}.crt`), 'utf8'),
    remove: () => removeTempDir(dir),
  };
}
