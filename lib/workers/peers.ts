// Owns forwarding a CancelRequest to the pgmux (or PgBouncer) that issued its key, for several
// instances behind one TCP load balancer (PgBouncer 1.19's [peers] and peer_id): the key's peer
// bytes name the issuer; a cancel for another peer is sent to that peer's host and port with
// one forward of its TTL spent, so a misconfigured ring cannot pass it around forever.

import * as net from 'node:net';
import * as path from 'node:path';
import type { Config } from '../config';
import { keyPeer, keyTtl, spendTtl } from '../auth/cancel-key';
import { cancelRequest } from '../protocol/frontend';
import { log } from '../log';

export class PeerForwarder {
  constructor(
    /** This instance's peer_id (non-zero: peering is on). */
    private readonly ownId: number,
    /** The running config, for [peers] (reloadable). */
    private readonly config: () => Config,
  ) {}

  /** True when the key is another peer's (the cancel went there, or was dropped and logged). */
  forward(pid: number, secret: number): boolean {
    const id = keyPeer(pid);
    if (id === this.ownId) return false;
    if (keyTtl(secret) === 0) {
      log.warn(`cancel request for peer ${id} dropped: it was forwarded too many times (check [peers] on every instance)`);
      return true;
    }
    const peer = this.config().peers?.get(id);
    if (peer === undefined) {
      log.warn(`cancel request for peer ${id} dropped: no such peer in [peers]`);
      return true;
    }
    const target = peer.host.startsWith('/') ? { path: path.join(peer.host, `.s.PGSQL.${peer.port}`) } : { host: peer.host, port: peer.port };
    const socket = net.connect(target, () => socket.end(cancelRequest(pid, spendTtl(secret))));
    socket.on('error', (err) => log.warn(`cancel request to peer ${id} (${peer.host}:${peer.port}) failed: ${err.message}`));
    socket.resume();
    log.debug(`cancel request forwarded to peer ${id} (${peer.host}:${peer.port})`);
    return true;
  }
}
