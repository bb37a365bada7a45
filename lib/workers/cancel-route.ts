// Owns where a CancelRequest goes when its key may not be this process's: first to the peer
// that issued it ([peers], peer_id), then to the worker that did (workers > 1); null when
// neither is on, so a single pgmux looks its keys up directly as before.

import type { Config } from '../config';
import { PeerForwarder } from './peers';
import type { WorkerLink } from './worker';

export function cancelRoute(peerId: number, config: () => Config, link: WorkerLink | null): ((pid: number, secret: number) => boolean) | null {
  const peers = peerId > 0 ? new PeerForwarder(peerId, config) : null;
  if (peers === null && link === null) return null;
  return (pid, secret) => (peers !== null && peers.forward(pid, secret)) || (link !== null && link.forwardCancel(pid, secret));
}
