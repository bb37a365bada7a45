// Owns counting the TCP connections a process opens, by destination port: strace attached to
// it (and its threads and children) records every connect(), including the ones the kernel
// refuses because nothing listens there, which no server log can show.

import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from './child';
import { makeTempDir, removeTempDir } from './osuser';
import { processTree } from './procs';

export const INSTALL_STRACE = 'apt-get install -y strace';

export interface DialTrace {
  /** Times (ms since the epoch) of every connect() to `port` so far, oldest first. */
  dials(port: number): number[];
  /** Detaches strace (the traced process runs on) and removes its output. Safe to call twice. */
  stop(): Promise<void>;
}

/** One line of `strace -f -ttt -e trace=connect`: "<tid> <epoch.usec> connect(<fd>, {... sin_port=htons(<port>) ...". */
const CONNECT = /^\d+\s+(\d+)\.(\d+) connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)/;

const ATTACH_TIMEOUT_MS = 10000;

function findStrace(): string {
  for (const path of ['/usr/bin/strace', '/bin/strace', '/usr/local/bin/strace']) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next
    }
  }
  throw new Error(INSTALL_STRACE);
}

/**
 * Attaches strace to `pid` and every process below it, and resolves once strace says it has
 * attached to `pid`. From then on each connect() the process makes is counted. Only connect()
 * stops the tracee's syscalls in strace's filter, but ptrace still stops it at every syscall:
 * trace both poolers of a comparison alike.
 */
export async function traceDials(pid: number, label: string): Promise<DialTrace> {
  const bin = findStrace();
  const dir = makeTempDir('pgmux-dials-');
  const out = join(dir, 'connect.trace');
  const targets = processTree(pid).flatMap((p) => ['-p', String(p)]);
  let child: Child | undefined;
  try {
    child = await Child.start(bin, ['-f', '-ttt', '-e', 'trace=connect', '-e', 'signal=none', '-o', out, ...targets], {
      label: `strace of ${label}`,
      emergencySignal: 'SIGTERM',
    });
    // strace writes "Process N attached" to stderr once it has seized N.
    await child.waitForLog(new RegExp(`Process ${pid} attached`), ATTACH_TIMEOUT_MS);
  } catch (err) {
    await child?.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    removeTempDir(dir);
    throw err;
  }
  const running = child;
  let stopped = false;
  let final: string | undefined;
  const text = (): string => {
    if (final !== undefined) return final;
    try {
      return readFileSync(out, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    dials(port) {
      const times: number[] = [];
      for (const line of text().split('\n')) {
        const m = CONNECT.exec(line);
        if (m && Number(m[3]) === port) times.push(Number(m[1]) * 1000 + Math.floor(Number(m[2]) / 1000));
      }
      // Lines of different threads can land slightly out of order.
      return times.sort((a, b) => a - b);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // SIGTERM makes strace detach and flush; the traced process is not affected.
      await running.stop([
        { signal: 'SIGTERM', waitMs: 5000 },
        { signal: 'SIGKILL', waitMs: 5000 },
      ]);
      final = text();
      removeTempDir(dir);
    },
  };
}

/** The most sorted timestamps less than `windowMs` apart (a sliding window), e.g. the peak dials per second. */
export function peakInWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
