// Owns `npm run demo`: a PostgreSQL primary + streaming replica on the ports examples/demo.ini
// names, pgmux in front of them with that ini, how to connect, a guided tour (unless
// --no-tour), then pgmux's log until Ctrl-C stops and removes everything.

import { join } from 'node:path';
import { Child } from '../tools/child';
import { startCluster, type Cluster, type PgNode } from '../tools/cluster';
import { serverUserName } from '../tools/osuser';
import { BUNDLE_PACKAGE, findPgBin } from '../tools/pgbin';
import { assertPortFree, waitForPort } from '../tools/ports';
import { repoRoot } from '../tools/repo';
import { DemoClients } from './clients';
import { DEMO_DB, DEMO_INI, demoConfig, type DemoConfig } from './config';
import { say } from './output';
import { runTour } from './tour';

const USAGE = `usage: npm run demo [-- --no-tour]

Starts a throwaway PostgreSQL primary and streaming replica and pgmux in front of them
(${DEMO_INI}), shows how to connect, runs a short tour, and stays up until Ctrl-C.

  --no-tour   skip the tour
  -h, --help  this text

PGMUX_POSTGRES=system|bundled|<bin dir> picks the PostgreSQL programs (default: the system's,
else the ones npm installed with ${BUNDLE_PACKAGE}).`;

/** Tables to SELECT right away; the tour writes into events too. */
async function seed(cluster: Cluster): Promise<void> {
  await cluster.query(
    cluster.primary,
    `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
     INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 250), (3, 'carol', 75);
     CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), note text NOT NULL,
                          written_on int NOT NULL DEFAULT inet_server_port());`,
    'app',
    DEMO_DB,
  );
  await cluster.waitForReplay();
}

/** Where the server programs came from, for the banner. */
async function serverLine(cluster: Cluster): Promise<string> {
  const r = await cluster.query(cluster.primary, 'SHOW server_version', 'postgres', 'postgres');
  const version = String(r.rows[0]?.server_version ?? '?');
  const user = serverUserName();
  const as = user === '' ? '' : `, running as OS user ${user}`;
  return cluster.server.origin === 'npm'
    ? `PostgreSQL ${version} from the npm package ${BUNDLE_PACKAGE} (no system PostgreSQL found)${as}`
    : `PostgreSQL ${version} from ${cluster.server.binDir}${as}`;
}

function hasPsql(): boolean {
  try {
    findPgBin('psql');
    return true;
  } catch {
    return false;
  }
}

function nodes(cluster: Cluster): PgNode[] {
  return [cluster.primary, cluster.replica].filter((n): n is PgNode => n !== undefined);
}

function banner(config: DemoConfig, cluster: Cluster, server: string): void {
  const url = (db: string, user: string): string => `postgres://${user}:${config.password}@${config.host}:${config.port}/${db}`;
  say('');
  say(`pgmux is listening on ${config.host}:${config.port} (config: ${DEMO_INI}), in front of`);
  for (const n of nodes(cluster)) say(`  ${n.role.padEnd(8)} ${n.host}:${n.port}${n.role === 'replica' ? '   streaming from the primary' : ''}`);
  say(`  ${server}`);
  say('');
  say(`  connect with psql:   psql "${url(DEMO_DB, 'app')}"`);
  if (!hasPsql()) say('                       (psql is not installed: apt-get install -y postgresql-client)');
  say(`  drivers' URL:        ${url(DEMO_DB, 'app')}`);
  say(`  read-only alias:     ${url('app_ro', 'app')}   (only ever a replica)`);
  say(`  admin console:       psql "${url('pgbouncer', 'postgres')}" -c "SHOW POOLS"`);
  say('                       also SHOW REPLICAS, SHOW PREPARED, SHOW ROUTE <statement>, SHOW HELP');
  if (config.httpBase !== undefined) {
    say(`  status page:         ${config.httpBase}/status`);
    say(`  metrics:             ${config.httpBase}/metrics`);
  }
  say(`  which server answered: SELECT *, inet_server_port() FROM accounts;`);
  say(`  (data in ${cluster.dir}, removed on exit; every role's password is ${config.password})`);
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

interface Options {
  tour: boolean;
}

function parseArgs(argv: string[]): Options | number {
  const opts: Options = { tour: true };
  for (const arg of argv) {
    if (arg === '--no-tour') opts.tour = false;
    else if (arg === '-h' || arg === '--help') {
      say(USAGE);
      return 0;
    } else {
      process.stderr.write(`demo: unknown option ${arg}\n${USAGE}\n`);
      return 2;
    }
  }
  return opts;
}

async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  if (typeof opts === 'number') return opts;
  const root = repoRoot();
  const config = demoConfig(root);
  // Checked up front so a taken port is one clear line, not a server log to decipher.
  for (const port of [config.primaryPort, config.replicaPort, config.port]) await assertPortFree(port);

  // Listen before starting anything: a Ctrl-C during startup must still clean up.
  const stopSignal = nextStopSignal();

  say(`Starting PostgreSQL: primary on ${config.primaryPort}, streaming replica on ${config.replicaPort} ...`);
  const cluster = await startCluster({ replica: true, port: config.primaryPort, replicaPort: config.replicaPort, password: config.password });
  let pgmux: Child | undefined;
  const clients = new DemoClients(config);
  try {
    await seed(cluster);
    const server = await serverLine(cluster);
    say(`Starting pgmux: bin/pgmux ${DEMO_INI} ...`);
    pgmux = await Child.start(process.execPath, [join(root, 'bin', 'pgmux'), DEMO_INI], {
      label: 'pgmux',
      cwd: root,
      env: process.env,
      emergencySignal: 'SIGKILL',
    });
    const running = pgmux;
    // Once a race is settled, a later rejection of its loser (pgmux stopped while we were
    // still polling, the tour failing after Ctrl-C) lands on a handled promise.
    const listening = waitForPort(config.port, running).then(() => 'listening' as const);
    if ((await Promise.race([listening, stopSignal])) !== 'listening') return stopping();
    banner(config, cluster, server);

    if (opts.tour) {
      const tour = runTour({ config, cluster, clients, pgmuxLog: () => running.logs() }).then(
        () => 'done' as const,
        (err: unknown) => err as Error,
      );
      const outcome = await Promise.race([tour, stopSignal, running.exited]);
      if (outcome instanceof Error) say(`\nThe tour stopped: ${outcome.message}`);
      else if (outcome !== 'done') return typeof outcome === 'string' ? stopping() : exitedByItself(running);
      await clients.closeAll();
    }

    say('');
    say(`pgmux is still running: primary :${nodes(cluster).find((n) => n.role === 'primary')?.port}, replica :${nodes(cluster).find((n) => n.role === 'replica')?.port}. Press Ctrl-C to stop.`);
    say("pgmux's log follows.");
    say('');
    running.setEcho(true);
    const outcome = await Promise.race([stopSignal, running.exited]);
    return typeof outcome === 'string' ? stopping() : exitedByItself(running);
  } finally {
    await clients.closeAll();
    // SIGTERM is pgmux's immediate shutdown; the demo has no transactions worth waiting for.
    await pgmux?.stop([
      { signal: 'SIGTERM', waitMs: 5000 },
      { signal: 'SIGKILL', waitMs: 5000 },
    ]);
    await cluster.stop();
    say('Stopped; temp dirs removed.');
  }
}

function stopping(): number {
  say('\nStopping pgmux and PostgreSQL ...');
  return 0;
}

function exitedByItself(pgmux: Child): number {
  say(`\npgmux stopped by itself (${pgmux.describeExit()}); stopping PostgreSQL ...`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
