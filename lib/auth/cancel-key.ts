// Owns the layout of the BackendKeyData key pgmux hands its clients: which pgmux instance
// (peer_id, as PgBouncer 1.19) and which worker process issued it, and how many more times a
// cancel for it may be forwarded between peers. Everything else in the 8 bytes is random.
//
// Bytes, as the client sees them (pid = bytes 0-3, secret = bytes 4-7, both big-endian):
//   0      random, top bit clear (PgBouncer: some clients mishandle a negative pid)
//   1, 2   peer_id, low byte first (PgBouncer's layout), random when peer_id = 0
//   3      the worker's index when workers > 1, else random
//   4..7   random; with peer_id set, the two low bits of byte 7 are the forwarding TTL (3)

import { randomInt32 } from './random';

/** What goes into the keys this process issues. */
export interface KeyIssuer {
  /** This pgmux's peer_id; 0: not peered. */
  readonly peerId: number;
  /** This worker's index (0..254) when there are several, else null. */
  readonly worker: number | null;
}

export const SINGLE_PROCESS: KeyIssuer = { peerId: 0, worker: null };

/** PgBouncer's CANCELLATION_TTL_MASK: a cancel is forwarded between peers at most 3 times. */
export const TTL_MASK = 0x03;

export interface CancelKey {
  pid: number;
  secret: number;
}

/** A fresh key for a client of `issuer`: two 32-bit draws, laid out as the bytes above say (no buffer per key). */
export function newCancelKey(issuer: KeyIssuer): CancelKey {
  // Byte 0's top bit clear.
  let pid = randomInt32() & 0x7fffffff;
  let secret = randomInt32();
  if (issuer.peerId > 0) {
    // Bytes 1 and 2: peer_id, low byte first.
    pid = (pid & 0x7f0000ff) | ((issuer.peerId & 0xff) << 16) | (((issuer.peerId >> 8) & 0xff) << 8);
    secret |= TTL_MASK;
  }
  // Byte 3: the worker.
  if (issuer.worker !== null) pid = (pid & 0x7fffff00) | (issuer.worker & 0xff);
  // A pid of 0 reads as "no key" to some drivers: byte 0 becomes 1.
  if (pid === 0) pid = 0x01000000;
  return { pid, secret };
}

/**
 * The secret as issued, whatever the TTL bits say now: a cancel forwarded between peers arrives
 * with its TTL spent, and must still find its client (PgBouncer compares keys without them).
 */
export function issuedSecret(secret: number, issuer: KeyIssuer): number {
  return issuer.peerId > 0 ? secret | TTL_MASK : secret;
}

/** The peer_id a key was issued under (0: none). Meaningful only when peering is on. */
export function keyPeer(pid: number): number {
  return ((pid >>> 16) & 0xff) | (((pid >>> 8) & 0xff) << 8);
}

/** The worker index a key was issued by. Meaningful only with workers > 1. */
export function keyWorker(pid: number): number {
  return pid & 0xff;
}

/** How many more times a cancel with this secret may be forwarded to a peer. */
export function keyTtl(secret: number): number {
  return secret & TTL_MASK;
}

/** The secret with one forward used up (PgBouncer decrements the last byte). */
export function spendTtl(secret: number): number {
  return keyTtl(secret) === 0 ? secret : (secret - 1) | 0;
}
