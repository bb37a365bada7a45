// Owns the child processes specs start: spawn with captured output, await exit or a log line,
// stop by PID with escalating signals.
//
// Output is always read (an unread pipe would eventually block the child) and kept, bounded,
// so a failing spec can print what the server said. Readiness is awaited as events (a log
// line, the process exiting) rather than with sleeps.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { trackPid, untrackPid } from './reaper';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  /** Shown in error messages, e.g. "postgres primary". */
  label: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** What the reaper sends if Node exits while this child still runs. */
  emergencySignal: NodeJS.Signals;
  /** Also copy the child's output to our stderr as it arrives (see setEcho()). */
  echo?: boolean;
  /**
   * Start it as the leader of its own process group, as a shell starts a job: signalGroup()
   * then reaches it and everything it started, as Ctrl-C in a terminal does.
   */
  detached?: boolean;
}

/** One step of a stop: send `signal`, then give the child `waitMs` to exit before the next. */
export interface StopStep {
  signal: NodeJS.Signals;
  waitMs: number;
}

/** Keep at most this much output per child; older text is dropped from the front. */
const LOG_LIMIT = 1 << 20;

export class Child {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  /**
   * Output pipes at EOF: every process holding them has exited. Later than 'exit', and later
   * still if the child's own children inherited them and outlive it.
   */
  readonly closed: Promise<void>;
  private exitInfo: ExitInfo | undefined;
  /** Set by redirectSignals(): the program this child runs (e.g. under strace), which gets our signals. */
  private signalPid: number | undefined;
  private text = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly label: string,
    private readonly proc: ChildProcess,
    private echo: boolean,
  ) {
    this.pid = proc.pid ?? -1;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        this.notify();
      });
    });
    this.closed = new Promise((resolve) => proc.once('close', () => resolve()));
    const onData = (chunk: Buffer): void => {
      if (this.echo) process.stderr.write(chunk);
      this.text += chunk.toString('utf8');
      if (this.text.length > LOG_LIMIT) this.text = this.text.slice(this.text.length - LOG_LIMIT);
      this.notify();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    // e.g. a signal that could not be delivered; without a listener it would throw.
    proc.on('error', (err) => onData(Buffer.from(`\n[${label}: ${err.message}]\n`)));
  }

  /** Spawns and resolves once the process exists (rejects if it could not be started). */
  static async start(command: string, args: string[], opts: ChildOptions): Promise<Child> {
    const proc = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: opts.detached === true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) => reject(new Error(`${opts.label}: cannot run ${command}: ${err.message}`)));
    });
    const child = new Child(opts.label, proc, opts.echo === true);
    trackPid(child.pid, opts.emergencySignal);
    // Under jest, a child that a failing spec never stopped must not keep jest from exiting
    // (CI would hang, not fail); when jest exits, the reaper's watchdog stops it. Jest's own
    // test timers keep the loop alive while a spec awaits a child. Elsewhere (the demo) the
    // child is what keeps us running, so it stays referenced.
    if (process.env.JEST_WORKER_ID !== undefined) {
      proc.unref();
      (proc.stdout as Socket | null)?.unref();
      (proc.stderr as Socket | null)?.unref();
    }
    void child.exited.then(() => untrackPid(child.pid));
    return child;
  }

  logs(): string {
    return this.text;
  }

  /** Starts or stops copying output to our stderr (the demo shows pgmux's log once its tour is done). */
  setEcho(on: boolean): void {
    this.echo = on;
  }

  hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Text that says how the child ended, for error messages. */
  describeExit(): string {
    const e = this.exitInfo;
    if (!e) return `${this.label} (pid ${this.pid}) is still running`;
    const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
    return `${this.label} (pid ${this.pid}) ${how}`;
  }

  /**
   * Resolves when the captured output matches `pattern`. Rejects if the child exits first or
   * `timeoutMs` passes; the rejection carries the output so the cause is visible.
   */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<void> {
    return this.waitFor(() => pattern.test(this.text), `log line ${pattern}`, timeoutMs);
  }

  /** Sends `signal` unless the child has already exited (its PID may then be reused). */
  signal(signal: NodeJS.Signals): void {
    if (this.hasExited()) return;
    if (this.signalPid === undefined) {
      this.proc.kill(signal);
      return;
    }
    try {
      process.kill(this.signalPid, signal);
    } catch {
      // already gone; the child exits with it
    }
    // SIGKILL is the last resort: it goes to the wrapper too (which takes its program along).
    if (signal === 'SIGKILL') this.proc.kill(signal);
  }

  /**
   * From now on signal() and stop() signal `pid` instead: for a child that is a wrapper
   * (strace) running the program we mean to stop, and that exits when the program does.
   */
  redirectSignals(pid: number): void {
    this.signalPid = pid;
  }

  /**
   * Sends `signal` to the child's process group (start it with `detached`), as a terminal's
   * Ctrl-C does; the group may outlive its leader. False when no process is left in it.
   */
  signalGroup(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs the steps in order until the child exits; after the last step waits for exit. */
  async stop(steps: StopStep[]): Promise<ExitInfo> {
    for (const step of steps) {
      if (this.exitInfo) return this.exitInfo;
      this.signal(step.signal);
      const info = await raceTimeout(this.exited, step.waitMs);
      if (info) return info;
    }
    return this.exited;
  }

  /**
   * failure(), for a child that has exited: first lets the last output arrive ('exit' can
   * come before the pipes are drained), for at most a second.
   */
  async exitFailure(what: string): Promise<Error> {
    await raceTimeout(this.closed, 1000);
    return this.failure(`${this.describeExit()} ${what}`);
  }

  /** Error whose message carries the child's output, for failed startups. */
  failure(what: string): Error {
    const out = this.text.trim();
    return new Error(`${what}\n--- output of ${this.label} (pid ${this.pid}) ---\n${out || '(none)'}`);
  }

  private waitFor(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (done()) finish();
        else if (this.exitInfo) {
          this.waiters.delete(check);
          void this.exitFailure(`before ${what}`).then(finish);
        }
      };
      const timer = setTimeout(
        () => finish(this.failure(`${this.label}: no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}

/** The promise's value, or undefined if it has not settled within ms. */
export async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing stdout and stderr separately. */
export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout?.on('data', (c: Buffer) => out.push(c));
    proc.stderr?.on('data', (c: Buffer) => err.push(c));
    proc.once('error', (e) => reject(new Error(`cannot run ${command}: ${e.message}`)));
    // 'close' rather than 'exit': it fires after the pipes are drained, so no output is lost.
    proc.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    if (opts.input !== undefined) proc.stdin?.end(opts.input);
  });
}
