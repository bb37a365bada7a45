// Owns running pgmux itself as a child process for black-box specs: `node bin/pgmux <ini>` in a
// temp dir, output captured, stopped by PID.

import { join } from 'node:path';
import { repoRoot } from '../../tools/repo';
import type { ExitInfo } from './child';
import { startDaemon } from './daemon';
import { connectTimes } from './dials';
import { iniListenPort } from './ini';
import { removeTempDir } from './osuser';

export interface PgmuxOptions {
  /** Command-line options put before the config path, e.g. ['--verbose']. */
  args?: string[];
  /** A JS file to run instead of bin/pgmux: only the launcher's own spec uses this. */
  script?: string;
  /** node's own options, before the script (bench: --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** How long stop() waits after its signal before SIGKILL (default 5 s; a profile takes longer to write). */
  stopWaitMs?: number;
  /** Run it under strace to count its connection attempts: dials() (spec/support/dials.ts). */
  traceConnects?: boolean;
}

export interface PgmuxProcess {
  /** listen_port from the ini. */
  port: number;
  pid: number;
  /** Temp dir with pgmux.ini and the extra files; the process's working directory. */
  dir: string;
  /** stdout and stderr so far, interleaved as they arrived. */
  logs(): string;
  /** Resolves once the output matches `pattern`; rejects (with the output) on exit or timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Sends `signal` (default SIGTERM), SIGKILL after 5 s (stopWaitMs), waits for exit, removes dir.
   * Resolves to the exit code (null when killed by a signal). Call it even after pgmux
   * exited on its own, to remove the dir.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves to the exit code when pgmux exits by itself (null if killed by a signal). */
  waitForExit(): Promise<number | null>;
  /** Times (ms since the epoch) pgmux called connect() to 127.0.0.1:port; only with traceConnects, and before stop(). */
  dials(port: number): number[];
}

export { repoRoot } from '../../tools/repo';

const exitCode = (e: ExitInfo): number | null => e.code;

/**
 * Writes `iniText` as pgmux.ini (plus `files`) into a temp dir and runs
 * `node <repo>/bin/pgmux [args] <dir>/pgmux.ini` there. Resolves when listen_port accepts a
 * connection; if pgmux exits first, rejects with its exit status and output.
 */
export async function startPgmux(
  iniText: string,
  files: Record<string, string> = {},
  opts: PgmuxOptions = {},
): Promise<PgmuxProcess> {
  const port = iniListenPort(iniText);
  const script = opts.script ?? join(repoRoot(), 'bin', 'pgmux');
  const { child, dir, pid, connectTrace } = await startDaemon({
    command: process.execPath,
    args: (config) => [...(opts.nodeArgs ?? []), script, ...(opts.args ?? []), config],
    configName: 'pgmux.ini',
    configText: iniText,
    files,
    port,
    label: `pgmux :${port}`,
    tempPrefix: 'pgmux-run-',
    env: () => process.env,
    traceConnects: opts.traceConnects,
  });
  const running = child;
  let cleaned = false;
  return {
    port,
    pid,
    dir,
    logs: () => running.logs(),
    waitForLog: (pattern, timeoutMs = 10000) => running.waitForLog(pattern, timeoutMs),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const info = await running.stop([
        { signal, waitMs: opts.stopWaitMs ?? 5000 },
        { signal: 'SIGKILL', waitMs: 5000 },
      ]);
      if (!cleaned) {
        cleaned = true;
        removeTempDir(dir);
      }
      return exitCode(info);
    },
    waitForExit: () => running.exited.then(exitCode),
    dials: (target) => connectTimes(connectTrace, target),
  };
}
