// Spec of ClientSocket.detach (lib/client/client-socket): the one way to take a plain client's
// connection out of this process's hands (issue 18's restart sends it with process.send). The
// handle it gives must still be a working connection that reads and writes elsewhere, and this
// ClientSocket must let go of it: no more reads reach its owner.

import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { acceptClients, type ClientSocket } from '../../lib/client/client-socket';
import type { SocketOwner } from '../../lib/client/socket-events';

/** An owner that records what reached it. */
function recorder(): SocketOwner & { data: Buffer[]; events: string[] } {
  const data: Buffer[] = [];
  const events: string[] = [];
  return {
    data,
    events,
    onData: (chunk) => void data.push(chunk),
    onDrain: () => void events.push('drain'),
    onError: (err) => void events.push(`error ${err.message}`),
    onEnd: () => void events.push('end'),
    onClose: () => void events.push('close'),
  };
}

/** The other process: takes the handle it is sent, says so, and echoes what the connection reads. */
const ECHO = `
  const net = require('node:net');
  process.on('message', (m, handle) => {
    const s = new net.Socket({ handle });
    s.on('data', (d) => s.write('echo ' + d));
    process.send('taken');
  });
`;

function once<T>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve as (v: T) => void));
}

describe('ClientSocket.detach', () => {
  it('gives a handle another process reads and writes through (process.send), and its old owner hears nothing more (catches: a handle still read or closed here after it was handed over)', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<ClientSocket>((resolve) => acceptClients(server, resolve));
    const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      const socket = await accepted;
      const owner = recorder();
      socket.attach(owner);
      peer.write('before');
      await new Promise<void>((r) => {
        const poll = (): void => (owner.data.length > 0 ? r() : void setTimeout(poll, 5));
        poll();
      });
      expect(Buffer.concat(owner.data).toString()).toBe('before');

      const handle = socket.detach();
      expect(handle).not.toBeNull();
      // Once given away, asking again gets nothing: there is one owner of a connection.
      expect(socket.detach()).toBeNull();
      // Another process takes it (as a restart would) and echoes what it reads.
      const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      try {
        const taken = once<string>(child, 'message');
        child.send('take', handle as net.Socket);
        expect(await taken).toBe('taken');
        const echoed = once<Buffer>(peer, 'data');
        peer.write('after');
        expect((await echoed).toString()).toBe('echo after');
        // Nothing of it came here any more.
        expect(Buffer.concat(owner.data).toString()).toBe('before');
        expect(owner.events).toEqual([]);
      } finally {
        child.kill();
      }
    } finally {
      peer.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
