// Owns opening many idle client connections cheaply: raw sockets that do a protocol 3.0 startup
// with md5 (or cleartext/trust) auth, wait for ReadyForQuery, then sit idle. A full driver per
// connection would make the bench process, not the pooler, the limit at 10,000 clients.

import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface IdleTarget {
  port: number;
  user: string;
  password: string;
  db: string;
}

const PROTOCOL_3_0 = 196608;
const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;

function startupPacket(user: string, db: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${db}\0\0`, 'utf8');
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(out, 8);
  return out;
}

function passwordMessage(text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const out = Buffer.alloc(5 + body.length);
  out[0] = 0x70; // 'p'
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const md5hex = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

/** One connection, resolved once it is idle (ReadyForQuery received). */
function openOne(t: IdleTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: t.port });
    let buf: Buffer = Buffer.alloc(0);
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(why));
    };
    socket.once('connect', () => socket.write(startupPacket(t.user, t.db)));
    socket.on('error', (err) => fail(`idle client: ${err.message}`));
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const type = String.fromCharCode(buf[0]);
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 'E') return fail(`idle client refused: ${body.toString('utf8').replace(/\0/g, ' ').trim()}`);
        if (type === 'R') {
          const code = body.readInt32BE(0);
          if (code === AUTH_MD5) {
            const inner = md5hex(t.password + t.user);
            socket.write(passwordMessage(`md5${md5hex(Buffer.concat([Buffer.from(inner), body.subarray(4, 8)]))}`));
          } else if (code === AUTH_CLEARTEXT) socket.write(passwordMessage(t.password));
          else if (code !== AUTH_OK) return fail(`idle client: unsupported auth request ${code}`);
        }
        if (type === 'Z') {
          socket.off('data', onData);
          socket.removeAllListeners('error');
          // Idle from here on: a later error (the pooler stopping) is expected.
          socket.on('error', () => undefined);
          return resolve(socket);
        }
      }
    };
    socket.on('data', onData);
  });
}

/** Opens `count` idle connections, at most `parallel` logging in at a time. */
export async function openIdleClients(t: IdleTarget, count: number, parallel = 100): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < count && !failed) {
      next++;
      const s = await openOne(t);
      // Another worker failed meanwhile: its caller already closed the rest.
      if (failed) s.destroy();
      else sockets.push(s);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  } catch (err) {
    failed = true;
    closeAll(sockets);
    throw err;
  }
  return sockets;
}

export function closeAll(sockets: Socket[]): void {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
}
