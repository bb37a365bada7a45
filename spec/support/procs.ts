// Owns looking at processes through /proc (Linux): a process's descendants, whether one is
// still alive, which ones mention a path. Specs use it to prove that stop() left nothing behind.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** [state letter, parent PID] from /proc/<pid>/stat, or undefined if the process is gone. */
function stat(pid: number): [string, number] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return [rest[0], Number(rest[1])];
  } catch {
    return undefined;
  }
}

/** Alive means it exists and is not a zombie (an exited child nobody has reaped yet). */
export function isAlive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s[0] !== 'Z';
}

/** The program a process runs (/proc/<pid>/exe), or undefined if it is gone or not ours to see. */
export function exePath(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The living processes whose parent is `pid`. */
export function childPids(pid: number): number[] {
  return allPids().filter((p) => {
    const s = stat(p);
    return s !== undefined && s[1] === pid && s[0] !== 'Z';
  });
}

/** pid and all its living descendants, e.g. a postmaster with its backends and walsenders. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const s = stat(p);
    if (!s) continue;
    const list = children.get(s[1]) ?? [];
    list.push(p);
    children.set(s[1], list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    if (!isAlive(p)) continue;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Living processes whose command line contains `text` (e.g. a data dir path). */
export function processesMentioning(text: string): number[] {
  return allPids().filter((p) => {
    if (p === process.pid || !isAlive(p)) return false;
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(text);
    } catch {
      return false;
    }
  });
}

/** Stopped by a signal (SIGSTOP): /proc shows state T until SIGCONT. */
export function isStopped(pid: number): boolean {
  return stat(pid)?.[0] === 'T';
}
