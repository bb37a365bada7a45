// Owns running the real PgBouncer 1.18 for side-by-side specs: a temp dir with the ini and its
// files, the process as OS user postgres in the foreground, stopped by PID.

import { accessSync, constants } from 'node:fs';
import { startDaemon } from './daemon';
import { connectTimes } from './dials';
import { iniListenPort } from './ini';
import { removeTempDir, runAsPostgres, serverEnv } from './osuser';

export interface PgBouncerProcess {
  /** listen_port from the ini. */
  port: number;
  pid: number;
  /** Temp dir with pgbouncer.ini and the extra files; the process's working directory. */
  dir: string;
  /** Everything PgBouncer wrote to stdout/stderr so far. */
  logs(): string;
  /** Resolves once the output matches `pattern`; rejects (with the output) on exit or timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGINT (safe shutdown), SIGKILL after 5 s; then removes dir. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves to the exit code when PgBouncer exits by itself, e.g. after SHUTDOWN. */
  waitForExit(): Promise<number | null>;
  /** Times (ms since the epoch) PgBouncer called connect() to 127.0.0.1:port; only with traceConnects, and before stop(). */
  dials(port: number): number[];
}

export interface PgBouncerOptions {
  /** Run it under strace to count its connection attempts: dials() (spec/support/dials.ts). */
  traceConnects?: boolean;
}

export const INSTALL_PGBOUNCER = 'apt-get install -y pgbouncer';

function findPgBouncer(): string {
  for (const path of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next
    }
  }
  throw new Error(INSTALL_PGBOUNCER);
}

/**
 * Writes `iniText` as pgbouncer.ini (and `files`, e.g. { 'userlist.txt': ... }) into a temp
 * dir and runs PgBouncer on it with that dir as working directory, so relative paths such as
 * `auth_file = userlist.txt` resolve there. The caller puts a free port (see freePort()) in
 * listen_port. Resolves once that port accepts connections; rejects with PgBouncer's output
 * if it exits first.
 */
export async function startPgBouncer(
  iniText: string,
  files: Record<string, string> = {},
  opts: PgBouncerOptions = {},
): Promise<PgBouncerProcess> {
  const bin = findPgBouncer();
  const port = iniListenPort(iniText);
  const { child, dir, pid, connectTrace } = await startDaemon({
    command: bin,
    args: (config) => [config],
    configName: 'pgbouncer.ini',
    configText: iniText,
    files,
    port,
    label: `pgbouncer :${port}`,
    tempPrefix: 'pgmux-bouncer-',
    env: serverEnv,
    ...runAsPostgres(),
    traceConnects: opts.traceConnects,
  });
  const running = child;
  let stopped = false;
  return {
    port,
    pid,
    dir,
    logs: () => running.logs(),
    waitForLog: (pattern, timeoutMs = 10000) => running.waitForLog(pattern, timeoutMs),
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.stop([
        { signal: 'SIGINT', waitMs: 5000 },
        { signal: 'SIGKILL', waitMs: 5000 },
      ]);
      removeTempDir(dir);
    },
    waitForExit: () => running.exited.then((e) => e.code),
    dials: (target) => connectTimes(connectTrace, target),
  };
}
