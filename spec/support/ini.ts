// Owns the little ini reading the launchers need: which ports a PgBouncer-style config listens on.
//
// Deliberately not lib/config: the launchers must work (and report clearly) even when pgmux's
// own config code is broken, and they need only a key or two.

/** PgBouncer's default listen_port. */
export const DEFAULT_LISTEN_PORT = 6432;

/** A [pgbouncer] key's value as a whole number (keys case-insensitive, the last one wins), or undefined. */
function iniNumber(iniText: string, key: string): number | undefined {
  let section = '';
  let found: number | undefined;
  const pattern = new RegExp(`^${key}\\s*=\\s*(\\d+)\\s*$`, 'i');
  for (const raw of iniText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    const kv = pattern.exec(line);
    if (section === 'pgbouncer' && kv) found = Number(kv[1]);
  }
  return found;
}

/** listen_port from the [pgbouncer] section (PgBouncer's default 6432 when absent). */
export function iniListenPort(iniText: string): number {
  return iniNumber(iniText, 'listen_port') ?? DEFAULT_LISTEN_PORT;
}

/** pgmux's http_listen_port (0, off, when absent). */
export function iniHttpPort(iniText: string): number {
  return iniNumber(iniText, 'http_listen_port') ?? 0;
}
