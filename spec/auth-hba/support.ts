// Owns what the hba, auth_query and hardening specs share: connecting from a chosen source
// address (127.0.0.2, ::1, a Unix socket), reading which challenge a login gets, a node-postgres
// login over such a socket, a hand-made failing SCRAM exchange, admin console views, and pgmux
// started with auth_type = hba.

import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Client } from 'pg';
import { RawConsole } from '../admin/support';
import { frame } from '../support/bytes';
import type { Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { errorFields, msg } from '../support/wire';

/**
 * pgmux in front of the cluster's db app with auth_type = hba (hba.conf, userlist.txt, both in
 * `files`), transaction mode, no unix socket; `extra` is more [pgbouncer] lines.
 */
export async function startHbaPgmux(cluster: Cluster, extra: string, files: Record<string, string>): Promise<PgmuxProcess> {
  const port = await freePort();
  return startPgmux(
    `[databases]
app = host=127.0.0.1 port=${cluster.primary.port} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
pool_mode = transaction
${extra}`,
    files,
  );
}

/** Where a test client connects from and to. */
export interface Target {
  port: number;
  /** Default 127.0.0.1; '::1' for IPv6. */
  host?: string;
  /** Source address to bind, e.g. 127.0.0.2 (the whole 127/8 is local on Linux). */
  localAddress?: string;
  /** A Unix socket file instead of TCP. */
  path?: string;
}

function connect(t: Target): net.Socket {
  if (t.path !== undefined) return net.connect({ path: t.path });
  return net.connect({ host: t.host ?? '127.0.0.1', port: t.port, localAddress: t.localAddress });
}

/** Reads whole frames off a socket; rejects when it closes or the deadline passes. */
export class FrameReader {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  async next(timeoutMs = 10000): Promise<{ type: string; body: Buffer }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= len + 1) {
          const f = { type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, len + 1) };
          this.buf = this.buf.subarray(len + 1);
          return f;
        }
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

/** A raw connection to `t`, frames read on demand. The caller destroys its socket. */
export async function opened(t: Target): Promise<FrameReader> {
  const socket = connect(t);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new FrameReader(socket);
}

/**
 * The server's first answer to a StartupMessage, which shows the method chosen: 'R0' (ok, no
 * password), 'R3' (cleartext), 'R5' (md5), 'R10' (SASL), or 'E:<message>' for a refusal.
 */
export async function firstAnswer(t: Target, user: string, database: string): Promise<string> {
  const r = await opened(t);
  try {
    r.socket.write(msg.startup({ user, database }));
    const f = await r.next();
    if (f.type === 'R') return `R${f.body.readInt32BE(0)}`;
    if (f.type === 'E') return `E:${errorFields(f.body).M}`;
    return `unexpected ${f.type}`;
  } finally {
    r.socket.destroy();
  }
}

/** A node-postgres connection whose socket comes from `t` (source address, IPv6, Unix socket). */
export async function pgConnect(t: Target, user: string, password: string | undefined, database = 'app'): Promise<Client> {
  const client = new Client({
    user,
    password,
    database,
    host: t.path !== undefined ? '/unused' : (t.host ?? '127.0.0.1'),
    port: t.port,
    // node-postgres calls stream.connect(port, host); this socket connects where `t` says instead.
    stream: () => {
      const socket = new net.Socket();
      const plain = socket.connect.bind(socket) as (opts: net.NetConnectOpts) => net.Socket;
      (socket as unknown as { connect: () => net.Socket }).connect = () =>
        plain(t.path !== undefined ? { path: t.path } : { host: t.host ?? '127.0.0.1', port: t.port, localAddress: t.localAddress });
      return socket;
    },
  });
  await client.connect();
  return client;
}

/** Logs in, runs SELECT current_user and ends; resolves to the user the server saw. */
export async function whoAmI(t: Target, user: string, password: string | undefined, database = 'app'): Promise<string> {
  const client = await pgConnect(t, user, password, database);
  try {
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]!.u;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

/**
 * A SCRAM login that sends a random proof: costs the client nothing (no PBKDF2), so a burst of
 * these measures only the server side. Resolves to the ErrorResponse text it ends with.
 */
export async function failingScramLogin(t: Target, user: string, database = 'app'): Promise<string> {
  const r = await opened(t);
  try {
    r.socket.write(msg.startup({ user, database }));
    const sasl = await r.next();
    if (sasl.type !== 'R' || sasl.body.readInt32BE(0) !== 10) throw new Error(`expected AuthenticationSASL, got ${sasl.type}`);
    const nonce = randomBytes(18).toString('base64');
    const first = Buffer.from(`n,,n=,r=${nonce}`);
    const len = Buffer.alloc(4);
    len.writeInt32BE(first.length);
    r.socket.write(frame('p', Buffer.concat([cstr('SCRAM-SHA-256'), len, first])));
    const cont = await r.next();
    if (cont.type !== 'R' || cont.body.readInt32BE(0) !== 11) throw new Error(`expected AuthenticationSASLContinue, got ${cont.type}`);
    const serverNonce = /r=([^,]+)/.exec(cont.body.subarray(4).toString())![1]!;
    r.socket.write(frame('p', Buffer.from(`c=biws,r=${serverNonce},p=${randomBytes(32).toString('base64')}`)));
    const end = await r.next();
    return end.type === 'E' ? errorFields(end.body).M! : `unexpected ${end.type}`;
  } finally {
    r.socket.destroy();
  }
}

/** Rows of a SHOW command on the admin console, as objects keyed by column name. */
export async function show(port: number, what: string, user = 'admin', password = 'admin-pw'): Promise<Record<string, string | null>[]> {
  const c = await RawConsole.open(port, user, password);
  try {
    const reply = await c.query(`SHOW ${what}`);
    if (reply.error !== null) throw new Error(`SHOW ${what}: ${reply.error.message}`);
    return RawConsole.objects(reply);
  } finally {
    c.close();
  }
}

/** Polls `done` (backing off 5 -> 100 ms) until it holds; there is no event to await. */
export async function pollUntil(done: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
