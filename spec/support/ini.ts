// Owns the little ini reading the launchers need: which port a PgBouncer-style config listens on.
//
// Deliberately not lib/config: the launchers must work (and report clearly) even when pgmux's
// own config code is broken, and they need only one key.

/** PgBouncer's default listen_port. */
export const DEFAULT_LISTEN_PORT = 6432;

/** listen_port from the [pgbouncer] section (PgBouncer's default 6432 when absent). */
export function iniListenPort(iniText: string): number {
  let section = '';
  let port = DEFAULT_LISTEN_PORT;
  for (const raw of iniText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    const kv = /^listen_port\s*=\s*(\d+)\s*$/i.exec(line);
    if (section === 'pgbouncer' && kv) port = Number(kv[1]);
  }
  return port;
}
