// Owns the command line: `pgmux [options] <config.ini>`, PgBouncer's flags, daemonizing and
// signal wiring. Everything else is in Pgmux.

import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import { Command } from 'commander';
import { loadConfig, type Config } from './config';
import { Pgmux, VERSION, applyLogSettings } from './pgmux';
import { Level, log, type LevelValue } from './log';
import { workerCount } from './workers/count';
import { Supervisor } from './workers/supervisor';
import { workerPlace } from './workers/worker';
import { keepYoungGenerationSmall } from './young-generation';

export async function main(argv: string[]): Promise<number> {
  keepYoungGenerationSmall();
  const program = new Command()
    .name('pgmux')
    .description('PostgreSQL connection pooler and router, a PgBouncer drop-in (same ini file)')
    .argument('<config.ini>', 'PgBouncer-style configuration file')
    .option('-d, --daemon', 'run in the background (needs pidfile in the config)')
    .option('-v, --verbose', 'more log output (repeat for more)', (_v: string, n: number) => n + 1, 0)
    .option('-q, --quiet', 'no log output on stderr (the logfile still gets it)')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .showHelpAfterError();
  program.parse(argv);
  const file = program.args[0];
  const opts = program.opts<{ daemon?: boolean; verbose: number; quiet?: boolean }>();

  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    process.stderr.write(`pgmux: ${(err as Error).message}\n`);
    return 1;
  }
  const verbosity = Math.min(Level.Noise, Level.Log + opts.verbose + config.settings.verbose) as LevelValue;
  log.level = verbosity;
  log.commandLineVerbose = opts.verbose;
  log.quiet = opts.quiet === true;

  if (opts.daemon) {
    if (config.settings.pidfile === '') {
      process.stderr.write('pgmux: -d needs pidfile set in the [pgbouncer] section, so the daemon can be found and stopped\n');
      return 1;
    }
    if (config.settings.logfile === '' && !opts.quiet) {
      process.stderr.write('pgmux: note: with -d and no logfile, log lines are discarded\n');
    }
    // The daemon's command line is rebuilt from the parsed options rather than filtered from
    // argv: a bundled flag such as -vd would survive a filter, and every daemon would spawn another.
    const args = [...Array<string>(opts.verbose).fill('-v'), ...(opts.quiet ? ['-q'] : []), file];
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { detached: true, stdio: 'ignore' });
    child.unref();
    const ok = await waitForPidfile(config.settings.pidfile, child.pid ?? 0);
    if (!ok) {
      process.stderr.write('pgmux: the daemon did not start; run without -d to see why\n');
      return 1;
    }
    return 0;
  }

  try {
    applyLogSettings(config);
  } catch (err) {
    process.stderr.write(`pgmux: cannot open logfile ${config.settings.logfile}: ${(err as Error).message}\n`);
    return 1;
  }
  let workers: number;
  try {
    workers = workerCount(config.settings.workers);
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  if (workers > 1 && cluster.isPrimary) return runWorkers(config, workers);
  const place = cluster.isWorker ? workerPlace() : null;
  const pgmux = new Pgmux(config, place);
  // Handlers go in before the listeners open: a client (or logrotate) may connect and send
  // SIGHUP the moment the port accepts, and Node's default for SIGHUP (and SIGUSR2) is to exit.
  process.on('SIGHUP', () => {
    log.info('got SIGHUP, re-reading config');
    pgmux.reload();
  });
  process.on('SIGUSR2', () => {
    // The restart hands clients from old worker processes to new ones: it needs the main process of workers >= 2.
    if (place === null) log.warn('got SIGUSR2: a restart without dropping clients needs workers = 2 or more (README, "Workers"); nothing done, pgmux goes on');
    else log.warn(`got SIGUSR2 in worker ${place.index}: send it to the main process (pid ${process.ppid}) to restart every worker; nothing done`);
  });
  ignoreSigusr1();
  process.on('SIGINT', () => void pgmux.shutdown('safe'));
  process.on('SIGTERM', () => void pgmux.shutdown('immediate'));
  try {
    await pgmux.start();
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  await pgmux.whenExited();
  return 0;
}

/** workers > 1: this process forks and supervises them (lib/workers/supervisor); they serve. */
async function runWorkers(config: Config, count: number): Promise<number> {
  const supervisor = new Supervisor(config, count);
  process.on('SIGHUP', () => {
    log.info('got SIGHUP, re-reading config in every worker');
    supervisor.signal('SIGHUP');
  });
  process.on('SIGINT', () => {
    log.info('got SIGINT, shutting down every worker safely');
    supervisor.signal('SIGINT');
  });
  process.on('SIGTERM', () => {
    log.info('got SIGTERM, shutting down every worker immediately');
    supervisor.signal('SIGTERM');
  });
  process.on('SIGUSR2', () => supervisor.restart());
  ignoreSigusr1();
  try {
    return await supervisor.run();
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
}

/**
 * Node's default for SIGUSR1 opens its inspector on 127.0.0.1:9229, through which any local user
 * could run code inside pgmux; a PgBouncer user sends SIGUSR1 meaning PAUSE. A listener of our own
 * replaces node's handler: pgmux logs what to do instead and goes on. (Acting on it as PAUSE
 * would strand the user, since SIGUSR2, PgBouncer's RESUME, is pgmux's restart.)
 */
function ignoreSigusr1(): void {
  process.on('SIGUSR1', () => log.warn('got SIGUSR1: pgmux does not act on it (PgBouncer pauses); use PAUSE and RESUME on the admin console'));
}

/** Waits until the daemon wrote its pid (it listens first), or it died. */
async function waitForPidfile(file: string, pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(pid)) return true;
    } catch {
      /* not yet */
    }
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
