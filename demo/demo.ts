// Owns `npm run demo`: a PostgreSQL primary + streaming replica on fixed ports, pgmux in front
// of them on 6432 with examples/demo.ini, everything stopped and removed on Ctrl-C.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from '../spec/support/child';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { iniHttpPort, iniListenPort } from '../spec/support/ini';
import { repoRoot } from '../spec/support/pgmux';
import { assertPortFree, waitForPort } from '../spec/support/ports';

/** These must match examples/demo.ini ([databases] ports) and examples/userlist.txt. */
const PRIMARY_PORT = 55432;
const REPLICA_PORT = 55433;
const PASSWORD = 'pgmux-demo';
/** Relative to the repo root, which is pgmux's working directory (auth_file resolves there). */
const INI = 'examples/demo.ini';

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A small table so there is something to SELECT right away. */
async function seed(cluster: Cluster): Promise<void> {
  await cluster.query(
    cluster.primary,
    `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
     INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 250), (3, 'carol', 75);`,
    'app',
    'app',
  );
  await cluster.waitForReplay();
}

function banner(cluster: Cluster, port: number, http: number): void {
  const conn = (db: string, user: string): string =>
    `psql "host=127.0.0.1 port=${port} dbname=${db} user=${user} password=${PASSWORD}"`;
  say('');
  say(`pgmux is listening on 127.0.0.1:${port} (config: ${INI}).`);
  say('');
  say(`  connect:          ${conn('app', 'app')}`);
  say(`  try:              SELECT * FROM accounts;`);
  say(`  read-only alias:  ${conn('app_ro', 'app')}`);
  say(`  see routing:      SHOW ROUTE <statement>; on the admin console, or SELECT inet_server_port();`);
  say(`  admin console:    ${conn('pgbouncer', 'postgres')} -c "SHOW POOLS"`);
  if (http !== 0) {
    say(`  status page:      http://127.0.0.1:${http}/status   (open it in a browser while you run queries)`);
    say(`  metrics:          curl http://127.0.0.1:${http}/metrics`);
    say(`  health:           curl http://127.0.0.1:${http}/healthz   and   /readyz`);
  }
  say('');
  say(`  PostgreSQL primary 127.0.0.1:${cluster.primary.port}, replica 127.0.0.1:${cluster.replica?.port}`);
  say(`  (data in ${cluster.dir}, removed on exit; every role's password is ${PASSWORD})`);
  say('');
  say('Press Ctrl-C to stop.');
}

/**
 * Resolves with the signal's name on the first SIGINT or SIGTERM. Later ones are only
 * acknowledged: with a handler installed Node no longer dies on them, so a second Ctrl-C
 * cannot interrupt the cleanup half way and leave a data dir behind.
 */
function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (seen) say(`${signal}: already stopping, please wait ...`);
      seen = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function main(): Promise<number> {
  const root = repoRoot();
  const iniText = readFileSync(join(root, INI), 'utf8');
  const pgmuxPort = iniListenPort(iniText);
  const httpPort = iniHttpPort(iniText);
  // Checked up front so a taken port is one clear line, not a server log to decipher.
  for (const port of [PRIMARY_PORT, REPLICA_PORT, pgmuxPort, httpPort]) if (port !== 0) await assertPortFree(port);

  // Listen before starting anything: a Ctrl-C during startup must still clean up.
  const stopSignal = nextStopSignal();

  say(`Starting PostgreSQL: primary on ${PRIMARY_PORT}, streaming replica on ${REPLICA_PORT} ...`);
  const cluster = await startCluster({ replica: true, port: PRIMARY_PORT, replicaPort: REPLICA_PORT, password: PASSWORD });
  let pgmux: Child | undefined;
  try {
    await seed(cluster);
    say(`Starting pgmux: bin/pgmux ${INI} ...`);
    pgmux = await Child.start(process.execPath, [join(root, 'bin', 'pgmux'), INI], {
      label: 'pgmux',
      cwd: root,
      env: process.env,
      emergencySignal: 'SIGKILL',
      echo: true,
    });
    // Once the race is settled a later rejection of `listening` (pgmux stopped while
    // we were still polling) lands on a handled promise, so it is not an unhandled rejection.
    const listening = waitForPort(pgmuxPort, pgmux).then(() => 'listening' as const);
    const first = await Promise.race([listening, stopSignal]);
    if (first === 'listening') {
      banner(cluster, pgmuxPort, httpPort);
      const outcome = await Promise.race([stopSignal, pgmux.exited]);
      if (typeof outcome !== 'string') {
        say(`\npgmux stopped by itself (${pgmux.describeExit()}); stopping PostgreSQL ...`);
        return 1;
      }
    }
    say('\nStopping pgmux and PostgreSQL ...');
    return 0;
  } finally {
    // SIGTERM is pgmux's immediate shutdown; the demo has no transactions worth waiting for.
    await pgmux?.stop([
      { signal: 'SIGTERM', waitMs: 5000 },
      { signal: 'SIGKILL', waitMs: 5000 },
    ]);
    await cluster.stop();
    say('Stopped; temp dirs removed.');
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
