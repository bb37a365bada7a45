// Unit spec of lib/auth/cancel-key: the BackendKeyData layout pgmux hands its clients (peer_id,
// worker index, TTL, positive pid), drawn as two 32-bit integers rather than 8 bytes.

import { keyPeer, keyTtl, keyWorker, newCancelKey, SINGLE_PROCESS, TTL_MASK } from '../../lib/auth/cancel-key';

describe('cancel keys', () => {
  it('a single process: pid positive and never 0, secrets spread over 32 bits (catches a sign bit left set, or a pid of 0 some drivers read as no key)', () => {
    const secrets = new Set<number>();
    let negativeSecret = false;
    for (let i = 0; i < 2000; i++) {
      const k = newCancelKey(SINGLE_PROCESS);
      expect(Number.isInteger(k.pid) && k.pid > 0 && k.pid <= 0x7fffffff).toBe(true);
      expect(Number.isInteger(k.secret) && k.secret >= -0x80000000 && k.secret <= 0x7fffffff).toBe(true);
      if (k.secret < 0) negativeSecret = true;
      secrets.add(k.secret);
    }
    expect(secrets.size).toBeGreaterThan(1990);
    expect(negativeSecret).toBe(true);
  });

  it('peer_id in bytes 1-2 (low byte first), the worker in byte 3, TTL 3 in the secret (catches a byte written in the wrong place)', () => {
    for (const peerId of [1, 0xff, 0x1234, 0x7fff]) {
      for (const worker of [0, 7, 254]) {
        for (let i = 0; i < 50; i++) {
          const k = newCancelKey({ peerId, worker });
          expect(k.pid).toBeGreaterThan(0);
          expect(keyPeer(k.pid)).toBe(peerId);
          expect(keyWorker(k.pid)).toBe(worker);
          expect(keyTtl(k.secret)).toBe(TTL_MASK);
          // As the bytes the client sees: byte 1 the low byte of peer_id, byte 2 the high one, byte 3 the worker.
          const b = Buffer.alloc(4);
          b.writeInt32BE(k.pid, 0);
          expect([b[1], b[2], b[3]]).toEqual([peerId & 0xff, peerId >> 8, worker]);
          expect(b[0] & 0x80).toBe(0);
        }
      }
    }
  });
});
