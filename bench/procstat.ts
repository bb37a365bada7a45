// Owns reading a process's CPU time and resident memory from /proc (Linux).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every common Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticksPerSecond = Number(out.trim()) || 100;
  }
  return ticksPerSecond;
}

export interface CpuTimes {
  /** utime: in the process's own code (for node: JS, V8, libuv). */
  user: number;
  /** stime: in the kernel on its behalf (socket reads and writes, epoll). */
  sys: number;
}

/**
 * utime and stime of the whole process (all its threads) in seconds. Fields 14 and 15 of
 * /proc/<pid>/stat, counted after the parenthesised command name, which may contain spaces.
 */
export function cpuTimes(pid: number): CpuTimes {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  return { user: Number(rest[11]) / clockTicks(), sys: Number(rest[12]) / clockTicks() };
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * CPU seconds the machine spent running processes so far (all CPUs): user, nice, system and
 * steal of /proc/stat. Interrupt and softirq time are left out: loopback TCP is delivered in
 * softirq context and is charged to no process, so during a round it is mostly our own traffic.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside user.
  const busy = v[0] + v[1] + v[2] + v[7];
  return busy / clockTicks();
}

/** utime+stime of each living pid, summed; pids that are gone count 0. */
export function cpuOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      const t = cpuTimes(pid);
      sum += t.user + t.sys;
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/** This process's own CPU plus that of its reaped children (pgbench runs), in seconds. */
export function selfAndChildrenSeconds(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14-17.
  return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / clockTicks();
}

/**
 * CPU of `pid`'s reaped children (cutime+cstime, fields 16-17), in seconds: for the postmaster,
 * the backends that already exited, such as those of a direct pgbench run.
 */
export function reapedChildrenSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) / clockTicks();
  } catch {
    return 0;
  }
}
