// Owns counting the TCP connections a server process opens, by destination port: the process
// runs under strace, which records every connect() it makes, including the ones the kernel
// refuses because nothing listens there (no server log shows those).
//
// strace starts the process itself so that it can use a seccomp-bpf filter: only connect()
// stops the process; its other system calls run at full speed. Attaching to a running
// process (strace -p) stops it at every system call, which on this 2-core machine raised a
// pooler's latency at 200 tps from ~6 ms to 120-220 ms: a drill must not measure that.

import { accessSync, constants, readFileSync } from 'node:fs';

export const INSTALL_STRACE = 'apt-get install -y strace';

/** One line of `strace -f -ttt -e trace=connect`: "<pid> <epoch.usec> connect(<fd>, {... sin_port=htons(<port>) ...". */
const CONNECT = /^\d+\s+(\d+)\.(\d+) connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)/;

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
 * The command line that runs `command args` under strace, logging each connect() (with the
 * time, and the process or thread that made it) to `outFile`. strace passes the program's
 * stdout and stderr through and exits with its exit status. It ignores SIGTERM and SIGINT
 * while it runs a program (its -I default with -o): signal the program itself.
 */
export function underStrace(outFile: string, command: string, args: string[]): { command: string; args: string[] } {
  return {
    command: findStrace(),
    args: ['-f', '-qq', '--seccomp-bpf', '-ttt', '-e', 'trace=connect', '-e', 'signal=none', '-o', outFile, '--', command, ...args],
  };
}

/** Times (ms since the epoch) of the connect() calls to `port` in an underStrace() log, oldest first. */
export function readDials(outFile: string, port: number): number[] {
  let text: string;
  try {
    text = readFileSync(outFile, 'utf8');
  } catch {
    return [];
  }
  const times: number[] = [];
  for (const line of text.split('\n')) {
    const m = CONNECT.exec(line);
    if (m && Number(m[3]) === port) times.push(Number(m[1]) * 1000 + Math.floor(Number(m[2]) / 1000));
  }
  // Lines of different threads can land slightly out of order.
  return times.sort((a, b) => a - b);
}

/** readDials() of a launcher's trace; throws when the launcher was not asked to trace. */
export function connectTimes(trace: string | undefined, port: number): number[] {
  if (trace === undefined) throw new Error('dials(): start the process with traceConnects: true to count its connection attempts');
  return readDials(trace, port);
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
