// Owns the floor of the "Node floor" benchmark (bench/floor.ts): the least a Node.js pooler
// does per byte. One client connection is relayed to one server connection by plain
// net.Socket 'data' events and write(), with backpressure, and nothing else: no parsing, no
// pooling, no authentication (pgbench logs in to PostgreSQL through it). What this costs per
// transaction is what Node itself costs before any pooler logic.
//
// Usage: node dist/bench/node-relay.js <listen port> <server port>

import * as net from 'node:net';

function relay(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

const [listenPort, serverPort] = process.argv.slice(2).map(Number);
if (!listenPort || !serverPort) {
  process.stderr.write('usage: node-relay <listen port> <server port>\n');
  process.exit(2);
}
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: serverPort, noDelay: true });
  relay(client, upstream);
  relay(upstream, client);
});
server.listen(listenPort, '127.0.0.1', () => process.stderr.write(`node-relay listening on ${listenPort}\n`));
process.on('SIGTERM', () => process.exit(0));
