// Owns last-resort cleanup: servers and temp dirs left behind when our Node process dies
// before it could stop them (a spec timing out in beforeAll, jest killed, the demo crashing).
//
// Every launcher stops what it starts in its own stop(); this is only the net. It cannot be a
// process.on('exit') hook: that runs no async code, does not run at all when we are killed by
// a signal, and inside jest `process` is a per-file copy whose 'exit' never fires. Instead a
// small watchdog process is started (detached, so a Ctrl-C aimed at us does not reach it)
// while anything is tracked. We tell it what to clean over its stdin, one JSON object per
// line; when that pipe reaches EOF because we died, it signals the tracked PIDs, waits for
// them to go, and removes the tracked dirs. When nothing is tracked any more we close the
// pipe ourselves and it exits with nothing to do, so idle spec files leave no watchdog.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** Runs in the watchdog (plain JS for `node -e`). */
const WATCHDOG = `
process.title = 'pgmux-spec-reaper (parent ' + process.ppid + ')';
const fs = require('fs');
const pids = new Map(), dirs = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) {
    const m = JSON.parse(buf.slice(0, i));
    if (m.op === 'pid') pids.set(m.pid, m.signal);
    if (m.op === 'unpid') pids.delete(m.pid);
    if (m.op === 'dir') dirs.add(m.dir);
    if (m.op === 'undir') dirs.delete(m.dir);
  }
});
// A zombie counts as gone: once our process died, nobody may ever reap its children.
const alive = (pid) => {
  try { return !/^\\d+ \\(.*\\) Z/s.test(fs.readFileSync('/proc/' + pid + '/stat', 'utf8')); } catch {}
  try { process.kill(pid, 0); return true; } catch { return false; }
};
process.stdin.on('end', () => {
  for (const [pid, sig] of pids) { try { process.kill(pid, sig); } catch {} }
  const deadline = Date.now() + 10000;
  const tick = () => {
    const left = [...pids.keys()].filter(alive);
    if (left.length > 0 && Date.now() < deadline) return void setTimeout(tick, 50);
    for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch {} }
    for (const dir of dirs) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
  };
  tick();
});
`;

let watchdog: ChildProcess | undefined;
/** Keys ("pid:12", "dir:/tmp/x") the watchdog currently knows; double untracks are no-ops. */
const tracked = new Set<string>();

function send(message: Record<string, string | number>): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    (watchdog.stdin as Socket | null)?.unref();
    // If it cannot be started we lose only the safety net, never the spec.
    watchdog.on('error', () => undefined);
    watchdog.stdin?.on('error', () => undefined);
  }
  watchdog.stdin?.write(`${JSON.stringify(message)}\n`);
}

function track(key: string, message: Record<string, string | number>): void {
  if (tracked.has(key)) return;
  tracked.add(key);
  send(message);
}

function untrack(key: string, message: Record<string, string | number>): void {
  if (!tracked.delete(key)) return;
  send(message);
  if (tracked.size === 0 && watchdog) {
    watchdog.stdin?.end();
    watchdog = undefined;
  }
}

/** Until untrackPid(pid), the watchdog sends `emergencySignal` to pid if we die. */
export function trackPid(pid: number, emergencySignal: NodeJS.Signals): void {
  track(`pid:${pid}`, { op: 'pid', pid, signal: emergencySignal });
}

export function untrackPid(pid: number): void {
  untrack(`pid:${pid}`, { op: 'unpid', pid });
}

/** Until untrackDir(dir), the watchdog removes dir if we die. */
export function trackDir(dir: string): void {
  track(`dir:${dir}`, { op: 'dir', dir });
}

export function untrackDir(dir: string): void {
  untrack(`dir:${dir}`, { op: 'undir', dir });
}
