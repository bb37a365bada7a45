// Black-box spec of hba rules that depend on TLS (issue 7): hostssl and hostnossl chosen by
// whether the client upgraded, and the cert method (client certificate CN = user) only over TLS.
// Uses the TLS specs' throwaway CA (spec/tls/support/pki).

import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { userlistLine } from '../client/support/setup';
import type { PgmuxProcess } from '../support/pgmux';
import { startHbaPgmux } from './support';
import { makePki, type Pki } from '../tls/support/pki';

let cluster: Cluster;
let pki: Pki;
let mux: PgmuxProcess;

const HBA = `hostssl    all  app      127.0.0.1/32  cert
hostnossl  all  app      127.0.0.1/32  md5
hostssl    all  app_md5  127.0.0.1/32  md5
hostnossl  all  app_md5  127.0.0.1/32  reject
`;

beforeAll(async () => {
  [cluster, pki] = await Promise.all([startCluster(), makePki()]);
  mux = await startHbaPgmux(
    cluster,
    `client_tls_sslmode = prefer
client_tls_key_file = ${pki.key('server')}
client_tls_cert_file = ${pki.cert('server')}
client_tls_ca_file = ${pki.cert('ca')}
`,
    { 'hba.conf': HBA, 'userlist.txt': userlistLine('app', cluster.password) + userlistLine('app_md5', cluster.password) },
  );
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
  pki?.remove();
});

type Tls = 'none' | 'no-cert' | 'client-app' | 'client-mallory';

/** Logs in as `user` over plain TCP or TLS (with the named client certificate); resolves to current_user. */
async function whoAmI(user: string, password: string | undefined, tls: Tls): Promise<string> {
  const ssl =
    tls === 'none'
      ? false
      : {
          ca: pki.pem('ca'),
          servername: 'localhost',
          ...(tls === 'no-cert' ? {} : { cert: readFileSync(pki.cert(tls)), key: readFileSync(pki.key(tls)) }),
        };
  const client = new Client({ host: '127.0.0.1', port: mux.port, user, password, database: 'app', ssl });
  try {
    await client.connect();
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]!.u;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('hostssl, hostnossl and cert', () => {
  it('logs app in by its client certificate over TLS, no password asked (catches: hostssl never matching a TLS client, or cert not honoured under hba)', async () => {
    await expect(whoAmI('app', undefined, 'client-app')).resolves.toBe('app');
  });

  it("refuses a certificate naming someone else, and TLS without a certificate, with PgBouncer's text (catches: cert accepting any valid certificate)", async () => {
    await expect(whoAmI('app', cluster.password, 'client-mallory')).rejects.toMatchObject({ code: '28000', message: 'certificate authentication failed' });
    await expect(whoAmI('app', cluster.password, 'no-cert')).rejects.toMatchObject({ code: '28000', message: 'certificate authentication failed' });
  });

  it('gives the same user the hostnossl rule (md5) on a plain connection (catches: the TLS state misread, so plain clients hit TLS-only rules)', async () => {
    await expect(whoAmI('app', cluster.password, 'none')).resolves.toBe('app');
    await expect(whoAmI('app', 'wrong', 'none')).rejects.toMatchObject({ code: '28P01' });
  });

  it('lets app_md5 in with a password over TLS only; plain is "login rejected" (catches: hostnossl reject applied to TLS clients, or skipped for plain ones)', async () => {
    await expect(whoAmI('app_md5', cluster.password, 'no-cert')).resolves.toBe('app_md5');
    await expect(whoAmI('app_md5', cluster.password, 'none')).rejects.toMatchObject({ code: '28000', message: 'login rejected' });
  });
});
