// Black-box spec: a setting in the startup packet that the server refuses (options=-c ..,
// PGOPTIONS). PostgreSQL refuses the connection with the setting's error; pgmux welcomes the
// client itself and learns of the refusal only when a server first applies the setting, so the
// client's first request fails with a FATAL carrying the server's SQLSTATE and words. That FATAL
// said the setting "could not be applied on the server it moved to", and told the client to
// RESET it, for a session that had never been on any server and had set nothing: the refusal now
// names the startup packet when no server has answered the client yet, and keeps the old words
// for a session whose settings are replayed on another server (spec/session/settings.spec.ts).

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { runPgmux, type Running } from '../support/front';

jest.setTimeout(30000);

let cluster: Cluster;
let run: Running;

beforeAll(async () => {
  cluster = await startCluster();
  run = await runPgmux(cluster, { roles: ['app'] });
});

afterAll(async () => {
  await run?.stop();
  await cluster?.stop();
});

interface Refused {
  severity?: string;
  code?: string;
  message: string;
  hint?: string;
}

/** Connects with `options` and runs one query; the error that stops it (at connect or at the query). */
async function refused(port: number, options: string): Promise<Refused> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app', options });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
  } catch (err) {
    const e = err as Refused;
    return { severity: e.severity, code: e.code, message: e.message, hint: e.hint };
  } finally {
    await c.end().catch(() => undefined);
  }
  throw new Error(`options ${options} were accepted`);
}

describe('a startup-packet setting the server refuses', () => {
  it('fails the first request with PostgreSQL\'s SQLSTATE and message, naming the startup packet, not a server the session "moved to" (catches: a hint to RESET a setting the client never SET)', async () => {
    const direct = await refused(cluster.primary.port, '-c statement_timeout=bogus');
    const pooled = await refused(run.port, '-c statement_timeout=bogus');
    expect(direct).toMatchObject({ severity: 'FATAL', code: '22023', message: 'invalid value for parameter "statement_timeout": "bogus"' });
    expect(pooled).toEqual({
      severity: 'FATAL',
      code: direct.code,
      message: `pgmux: a setting from this connection's startup packet could not be applied on the server: ${direct.message}`,
      hint: 'The request did not run. Connect again with a valid value (the startup parameter of that name, or the options connection parameter, PGOPTIONS).',
    });
  });
});
