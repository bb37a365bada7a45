// Owns finding which OS user is at the other end of a unix-socket client, for PgBouncer's rule
// that such a login as user pgbouncer by pgmux's own OS user is an admin without a password.
//
// Node has no getpeereid()/SO_PEERCRED, so this asks the kernel's socket table the way `ss`
// does: our socket's inode (from /proc/self/fd), its peer's inode (ss -x), the process holding
// the peer inode (ss -p), and that process's real uid (/proc/<pid>/status). Any step that fails
// answers undefined, and the login falls back to normal authentication. Only logins as user
// pgbouncer to database pgbouncer over a unix socket pay for this.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';

/** The fd under a node socket or listener (node keeps it in the undocumented _handle.fd), or null. */
export function socketFd(socket: net.Socket | net.Server): number | null {
  const handle: unknown = Reflect.get(socket, '_handle');
  if (typeof handle !== 'object' || handle === null) return null;
  const fd: unknown = Reflect.get(handle, 'fd');
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

function inodeOf(fd: number): string | undefined {
  try {
    return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
}

function realUid(pid: string): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** The real uid of the process at the other end of the unix socket on `fd`, when it can be found. */
export function unixPeerUid(fd: number | null): Promise<number | undefined> {
  const mine = fd === null ? undefined : inodeOf(fd);
  if (mine === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile('ss', ['-xpnH'], { timeout: 2000, maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err !== null) {
        resolve(undefined);
        return;
      }
      // Lines: netid state recv-q send-q local-addr local-inode peer-addr peer-inode [users:((..))]
      const rows = stdout.split('\n').map((line) => line.trim().split(/\s+/));
      const peerInode = rows.find((f) => f[5] === mine)?.[7];
      const peer = peerInode === undefined ? undefined : rows.find((f) => f[5] === peerInode);
      const pid = peer === undefined ? undefined : /pid=(\d+)/.exec(peer.slice(8).join(' '))?.[1];
      resolve(pid === undefined ? undefined : realUid(pid));
    });
  });
}
