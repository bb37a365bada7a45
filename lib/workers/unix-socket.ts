// Owns the unix socket file's life around the listener: where it is, refusing to start over a
// live one, clearing one a crash left behind. The single process and the workers' main process
// both use it (the workers themselves find the socket already prepared).

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Settings } from '../config';

/** The socket file for unix_socket_dir and listen_port; null when unix_socket_dir is empty. */
export function unixSocketFile(s: Settings): string | null {
  return s.unix_socket_dir === '' ? null : path.join(s.unix_socket_dir, `.s.PGSQL.${s.listen_port}`);
}

/** Throws when another pooler answers on `file`; removes it when nobody does (a crash's leftover). */
export async function prepareUnixSocket(file: string): Promise<void> {
  if (await socketInUse(file)) throw new Error(`unix socket ${file} is in use, cannot continue`);
  removeStaleSocket(file);
}

/** Whether something accepts connections on the Unix socket `file` (PgBouncer's check_old_process_unix). */
function socketInUse(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path: file });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export function removeStaleSocket(file: string): void {
  try {
    if (fs.statSync(file).isSocket()) fs.unlinkSync(file);
  } catch {
    /* not there */
  }
}
