// Owns the micro benchmark of node's socket layer (`node dist/bench/pingpong.js <write> <read> [hops]`):
// one process ping-pongs 100 bytes between the two ends of a loopback TCP connection, each hop
// one read and one write, and prints the process's CPU per hop. <write> is `stream`
// (socket.write) or `direct` (lib/direct-write); <read> is `data` ('data' events), `onread`
// (net's onread into a reused buffer, the bytes used in place) or `onread-copy` (each read
// copied out first, as lib/client/client-socket does). Run each a few times: one number is noise.
//
// Not a test: numbers depend on the machine.

import * as net from 'node:net';
import { once } from 'node:events';
import { writeDirect } from '../lib/direct-write';

const [writeMode = 'stream', readMode = 'data', hopsArg = '100000'] = process.argv.slice(2);
const hops = Number(hopsArg);
const message = Buffer.alloc(100, 1);
const send = writeMode === 'direct' ? (s: net.Socket, b: Buffer): void => void writeDirect(s, b) : (s: net.Socket, b: Buffer): void => void s.write(b);

let count = 0;
let cpu0 = process.cpuUsage();
let wall0 = process.hrtime.bigint();

function finish(): void {
  const c = process.cpuUsage(cpu0);
  const wall = Number(process.hrtime.bigint() - wall0) / 1e3;
  process.stdout.write(`${writeMode}/${readMode}: ${((c.user + c.system) / hops).toFixed(2)} µs CPU per hop (user ${(c.user / hops).toFixed(2)}), wall ${(wall / hops).toFixed(2)} µs\n`);
  process.exit(0);
}

/** Reads of `socket` answer on `peer()`: the other end writes the next hop. */
function onBytes(reply: () => net.Socket): (chunk: Buffer) => void {
  return () => {
    if (++count >= hops) finish();
    else send(reply(), message);
  };
}

function onread(deliver: (chunk: Buffer) => void): net.OnReadOpts {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  return {
    buffer,
    callback: (n: number, buf: Uint8Array): boolean => {
      deliver(readMode === 'onread-copy' ? Buffer.from((buf as Buffer).subarray(0, n)) : (buf as Buffer).subarray(0, n));
      return true;
    },
  };
}

async function main(): Promise<void> {
  let accepted: net.Socket | null = null;
  let client: net.Socket | null = null;
  const toClient = (): net.Socket => accepted as net.Socket;
  const toServer = (): net.Socket => client as net.Socket;
  const server = net.createServer({ noDelay: true, pauseOnConnect: readMode !== 'data' }, (s) => {
    if (readMode === 'data') {
      accepted = s;
      s.on('data', onBytes(toClient));
      return;
    }
    // As the first version of client socket reading (lib/client/client-socket now holds the raw handle): the accepted handle wrapped again with onread.
    const wrapper = s as net.Socket & { _handle: object | null };
    const handle = wrapper._handle;
    wrapper._handle = null;
    s.destroy();
    accepted = new net.Socket({ handle, onread: onread(onBytes(toClient)) } as net.SocketConstructorOpts);
    accepted.setNoDelay(true);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  client = net.connect({ port, host: '127.0.0.1', noDelay: true, ...(readMode === 'data' ? {} : { onread: onread(onBytes(toServer)) }) });
  if (readMode === 'data') client.on('data', onBytes(toServer));
  await once(client, 'connect');
  await new Promise((r) => setTimeout(r, 100));
  cpu0 = process.cpuUsage();
  wall0 = process.hrtime.bigint();
  send(client, message);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
