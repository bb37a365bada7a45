// Owns the [peers] section (PgBouncer 1.19): `<peer_id> = host=... [port=...] [pool_size=...]`,
// the other pgmux (or PgBouncer) instances behind the same load balancer, to which a cancel
// request for one of their keys is forwarded.

import { ConfigError } from './errors';
import { parseConnString } from './connstring';

export interface PeerDef {
  /** The peer's peer_id (1..65535). */
  id: number;
  /** A host name or address, or a unix socket directory (starting with /). */
  host: string;
  port: number;
  /** "file:line" of the line that defined it. */
  source: string;
}

/** One [peers] line. Throws ConfigError at `source`. */
export function parsePeer(key: string, value: string, source: string): PeerDef {
  const id = /^[0-9]+$/.test(key) ? Number(key) : NaN;
  if (!Number.isInteger(id) || id < 1 || id > 65535) {
    throw new ConfigError(source, `[peers] key "${key}" is not a peer_id: use the peer's peer_id, a number from 1 to 65535`);
  }
  let host: string | undefined;
  let port = 6432;
  for (const [k, v] of parseConnString(value, source)) {
    switch (k) {
      case 'host':
        host = v;
        break;
      case 'port': {
        const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
        if (!(n >= 1 && n <= 65535)) throw new ConfigError(source, `peer ${id}: port = "${v}" is not a port number (1 to 65535)`);
        port = n;
        break;
      }
      // PgBouncer's pool of connections for forwarded cancels: pgmux opens one per cancel.
      case 'pool_size':
        break;
      default:
        throw new ConfigError(source, `unknown key "${k}" for peer ${id}; valid keys: host, port, pool_size`);
    }
  }
  if (host === undefined) throw new ConfigError(source, `peer ${id} needs host= (an address, or a unix socket directory)`);
  return { id, host, port, source };
}
