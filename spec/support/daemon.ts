// Owns starting a server process on a config file for specs and benches (pgmux, PgBouncer): a
// temp dir holding the config and its files as working directory, the process started there
// (optionally under strace, counting its connections), and the wait until its port accepts
// connections. If anything fails, the process is killed and the dir removed. How each is
// stopped stays with its caller.

import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from './child';
import { underStrace } from './dials';
import { makeTempDir, removeTempDir, writeFiles } from './osuser';
import { assertPortFree, waitForPort } from './ports';
import { childPids, exePath } from './procs';
import { waitFor } from './wait';

export interface DaemonStart {
  command: string;
  /** The arguments, given the config file's path. */
  args(configPath: string): string[];
  /** File name of the config in the temp dir (pgmux.ini, pgbouncer.ini). */
  configName: string;
  configText: string;
  /** More files beside the config, e.g. { 'userlist.txt': ... }. */
  files: Record<string, string>;
  /** The listen port to wait for. */
  port: number;
  label: string;
  tempPrefix: string;
  /** The environment, given the temp dir. */
  env(dir: string): NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Run it under strace, logging each connect() to `connects.trace` in the temp dir (see dials.ts). */
  traceConnects?: boolean;
}

export interface Daemon {
  child: Child;
  dir: string;
  /** The server's own PID: the child's, or under strace the program strace runs. */
  pid: number;
  /** Under traceConnects, the strace log of its connect() calls (in `dir`). */
  connectTrace?: string;
}

const TRACE_FILE = 'connects.trace';

/** Resolves once `port` accepts connections; rejects with the process's output if it exits first. */
export async function startDaemon(d: DaemonStart): Promise<Daemon> {
  await assertPortFree(d.port);
  const dir = makeTempDir(d.tempPrefix);
  let child: Child | undefined;
  try {
    writeFiles(dir, { ...d.files, [d.configName]: d.configText });
    const args = d.args(join(dir, d.configName));
    const trace = d.traceConnects ? join(dir, TRACE_FILE) : undefined;
    const run = trace ? underStrace(trace, d.command, args) : { command: d.command, args };
    child = await Child.start(run.command, run.args, {
      label: d.label,
      cwd: dir,
      env: d.env(dir),
      uid: d.uid,
      gid: d.gid,
      // Under strace: SIGKILL to strace also ends the program it runs.
      emergencySignal: 'SIGKILL',
    });
    let pid = child.pid;
    if (trace) {
      const wrapper = child;
      // strace forks the program at once (after a short-lived helper child of its own); there
      // is no event for it, so look for the child process that runs the program.
      const program = realpathSync(d.command);
      pid = await waitFor(
        `the program ${d.label} under strace`,
        () => childPids(wrapper.pid).find((p) => exePath(p) === program) ?? (wrapper.hasExited() ? -1 : undefined),
      );
      if (pid === -1) throw await wrapper.exitFailure('before starting its program');
      wrapper.redirectSignals(pid);
    }
    await waitForPort(d.port, child);
    return { child, dir, pid, connectTrace: trace };
  } catch (err) {
    await child?.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    removeTempDir(dir);
    throw err;
  }
}
