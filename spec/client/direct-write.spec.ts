// Spec of writing below the stream (lib/direct-write): over a real loopback connection whose
// reader stops reading, writes go pending in libuv, 'drain' follows once they are written, and
// bytes written meanwhile through socket.write() (an error frame, a synthesized reply) arrive in
// order with them. No mocks: two node sockets, one of them paused.

import * as net from 'node:net';
import { once } from 'node:events';
import { writeDirect } from '../../lib/direct-write';

async function pair(): Promise<{ writer: net.Socket; reader: net.Socket; server: net.Server }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection');
  const writer = net.connect(port, '127.0.0.1');
  await once(writer, 'connect');
  const [reader] = (await accepted) as [net.Socket];
  return { writer, reader, server };
}

/** 1 MiB whose every 4-byte word is its index in the run of `chunks`, starting at `from`. */
function numbered(from: number, words: number): Buffer {
  const b = Buffer.allocUnsafe(words * 4);
  for (let i = 0; i < words; i++) b.writeUInt32BE(from + i, i * 4);
  return b;
}

describe('writeDirect', () => {
  it.each([
    ['direct writes alone: this module owes the drain', false],
    ['mixed with small write()s queued behind: still this module', true],
  ])('goes pending when the kernel is full, then drain once written, bytes in order (%s) (catches: a lost drain stalling the forwarding path, or bytes overtaking each other)', async (_what, mixed) => {
    const { writer, reader, server } = await pair();
    try {
      reader.pause();
      const words = 256 * 1024;
      let next = 0;
      let pending = 0;
      // Fill the kernel's buffers until a write stays pending.
      while (pending === 0 && next < 64 * words) {
        pending = writeDirect(writer, numbered(next, words));
        next += words;
      }
      expect(pending).toBeGreaterThan(0);
      // A further direct write queues behind it; then, when `mixed`, a small write() (an error
      // frame, a synthesized reply: write() owes no 'drain' for it) and a small direct write that
      // goes through write() to stay in order. Either way a 'drain' must come.
      expect(writeDirect(writer, numbered(next, words))).toBeGreaterThan(0);
      next += words;
      if (mixed) {
        writer.write(numbered(next, 64));
        next += 64;
        writeDirect(writer, numbered(next, 64));
        next += 64;
      }
      const drained = once(writer, 'drain');
      let expected = 0;
      let bad = 0;
      let carry: Buffer = Buffer.alloc(0);
      reader.on('data', (chunk: Buffer) => {
        const b = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
        const whole = b.length - (b.length % 4);
        for (let i = 0; i < whole; i += 4) if (b.readUInt32BE(i) !== expected++) bad++;
        carry = b.subarray(whole);
      });
      reader.resume();
      await drained;
      await new Promise<void>((resolve) => {
        const check = (): void => (expected >= next ? resolve() : void setTimeout(check, 10));
        check();
      });
      expect({ expected, bad }).toEqual({ expected: next, bad: 0 });
    } finally {
      writer.destroy();
      reader.destroy();
      server.close();
    }
  });

  it('returns 0 for a write the kernel takes whole', async () => {
    const { writer, reader, server } = await pair();
    try {
      expect(writeDirect(writer, Buffer.from('hello'))).toBe(0);
      const [chunk] = (await once(reader, 'data')) as [Buffer];
      expect(chunk.toString()).toBe('hello');
    } finally {
      writer.destroy();
      reader.destroy();
      server.close();
    }
  });

  /**
   * writeDirect tells a destroyed socket by its missing handle (not the shared `destroyed`
   * getter, megamorphic once the HTTP listener runs): a destroyed socket must have none, and a
   * write to it must go through write() (its error path), never to a closed handle.
   */
  it('leaves a destroyed socket to write(): nothing reaches the peer, nothing throws', async () => {
    const { writer, reader, server } = await pair();
    try {
      writer.destroy();
      expect((writer as unknown as { _handle: unknown })._handle).toBeNull();
      let received = 0;
      reader.on('data', (chunk: Buffer) => (received += chunk.length));
      expect(() => writeDirect(writer, Buffer.from('late'))).not.toThrow();
      await once(reader, 'close');
      expect(received).toBe(0);
    } finally {
      reader.destroy();
      server.close();
    }
  });
});
