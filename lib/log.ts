// Owns log output: PgBouncer's line shape, verbosity levels, stderr and the logfile.
//
// A line looks like PgBouncer's:
//   2026-11-23 03:44:24.123 UTC [4242] LOG C-0x1a: app/alice@127.0.0.1:53412 login attempt: db=app user=alice tls=no
// so operators' log parsers keep working. Secrets never reach this module: callers pass names only.

import * as fs from 'node:fs';

export const Level = { Error: 0, Warning: 1, Log: 2, Debug: 3, Noise: 4 } as const;
export type LevelValue = (typeof Level)[keyof typeof Level];

const LABEL = ['ERROR', 'WARNING', 'LOG', 'DEBUG', 'NOISE'] as const;

/** Something a log line can be about: a client or a server connection. */
export interface LogSubject {
  /** e.g. "C-0x1a: app/alice@127.0.0.1:53412" */
  logPrefix(): string;
}

class Logger {
  /** Highest level printed: LOG by default, -v and `verbose` raise it, -q keeps only the logfile. */
  level: LevelValue = Level.Log;
  quiet = false;
  /** How many -v the command line gave (lib/cli); the config's `verbose` adds to them. */
  commandLineVerbose = 0;

  /**
   * The config's `verbose` (at start, RELOAD, or SET on the console): 1 prints DEBUG lines,
   * 2 also NOISE, on top of the command line's -v.
   */
  setVerbose(verbose: number): void {
    this.level = Math.min(Level.Noise, Level.Log + this.commandLineVerbose + Math.max(0, verbose)) as LevelValue;
  }
  private fd: number | null = null;

  /**
   * Opens `file` for appending, also when it is the current one: after logrotate moved the
   * file away, SIGHUP starts a fresh one (as PgBouncer). Throws if it cannot be opened, and
   * then keeps writing where it did.
   */
  setLogfile(file: string): void {
    const fd = file === '' ? null : fs.openSync(file, 'a');
    this.closeLogfile();
    this.fd = fd;
  }

  closeLogfile(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  enabled(level: LevelValue): boolean {
    return level <= this.level;
  }

  write(level: LevelValue, subject: LogSubject | null, message: string): void {
    if (level > this.level) return;
    const prefix = subject === null ? '' : `${subject.logPrefix()} `;
    const line = `${timestamp()} [${process.pid}] ${LABEL[level]} ${prefix}${message}\n`;
    if (!this.quiet) process.stderr.write(line);
    if (this.fd !== null) fs.writeSync(this.fd, line);
  }

  error(message: string, subject: LogSubject | null = null): void {
    this.write(Level.Error, subject, message);
  }
  warn(message: string, subject: LogSubject | null = null): void {
    this.write(Level.Warning, subject, message);
  }
  info(message: string, subject: LogSubject | null = null): void {
    this.write(Level.Log, subject, message);
  }
  debug(message: string, subject: LogSubject | null = null): void {
    this.write(Level.Debug, subject, message);
  }
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)} UTC`
  );
}

/** The process-wide logger; its settings come from the config and the command line. */
export const log = new Logger();
