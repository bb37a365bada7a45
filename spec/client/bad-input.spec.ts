// Black-box spec of bad client input (issue 3, "Bad input"): each kind of garbage gets a FATAL
// 08P01 ErrorResponse that says what was wrong and its socket closed within a second, while a
// bystander's open transaction goes on untouched and the pgmux process stays up.

import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { bystanderInTransaction, pgClient } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { isAlive } from '../support/procs';
import { startMux } from './support/setup';
import { frame } from '../support/bytes';
import { RawClient, msg } from '../support/wire';

const MAX_PACKET = 10000;

let cluster: Cluster;
let mux: PgmuxProcess;
/** In an open transaction (BEGIN; INSERT) for the whole file. */
let bystander: Client;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE bystander (n int)', 'app');
  mux = await startMux(cluster, { settings: { max_packet_size: MAX_PACKET } });
  bystander = await bystanderInTransaction(mux.port, cluster.password);
});

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

/** Bytes that look random but are the same on every run (a fixed-seed LCG). */
function noise(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

/** A typed header only: type byte and a declared length, no body. */
function header(type: string, length: number): Buffer {
  const b = Buffer.alloc(5);
  b.write(type, 0, 'latin1');
  b.writeInt32BE(length, 1);
  return b;
}

const startup = (): Buffer => msg.startup({ user: 'app', database: 'app' });

interface BadInput {
  /** What is sent, and the bug the case would catch. */
  name: string;
  /** Log in first, so the bytes reach the forwarding path rather than the startup phase. */
  loggedIn: boolean;
  bytes: () => Buffer;
  /** Send FIN after the bytes (the client gave up mid-message). */
  halfClose?: boolean;
  message: RegExp;
}

const CASES: BadInput[] = [
  {
    name: 'an HTTP request (catches: a health checker pointed at the wrong port hanging or crashing pgmux)',
    loggedIn: false,
    bytes: () => Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    message: /^invalid startup packet: it begins with byte 71 \(an HTTP request\); a PostgreSQL client begins with a length of 8 to 10000 bytes$/,
  },
  {
    name: 'random bytes instead of a startup packet (catches: garbage interpreted as some packet)',
    loggedIn: false,
    bytes: () => noise(7, 256),
    message: /^invalid (startup packet: it begins with byte \d+|length of startup packet: -?\d+); /,
  },
  {
    name: 'a malformed StartupMessage, parameter list not terminated (catches: decoder reading past the packet)',
    loggedIn: false,
    bytes: () => {
      const s = startup();
      s[s.length - 1] = 0x41; // the terminating NUL becomes 'A'
      return s;
    },
    message: /^malformed startup packet: .*not NUL-terminated/,
  },
  {
    name: 'a truncated StartupMessage then FIN (catches: a half-sent packet silently dropped, PgBouncer answers it)',
    loggedIn: false,
    bytes: () => startup().subarray(0, 12),
    halfClose: true,
    message: /^client sent partial pkt in startup phase$/,
  },
  {
    name: 'a message whose length is below 4, after login (catches: a negative body length looping or crashing the relay)',
    loggedIn: true,
    bytes: () => header('Q', 2),
    message: /^invalid message length 2 for message type 'Q': the length counts itself, so it is at least 4$/,
  },
  {
    name: `a message over max_packet_size (${MAX_PACKET}) (catches: buffering whatever length a client declares)`,
    loggedIn: true,
    bytes: () => header('Q', MAX_PACKET + 1),
    message: new RegExp(`^message type 'Q' declares ${MAX_PACKET + 1} bytes, more than max_packet_size \\(${MAX_PACKET}\\)$`),
  },
  {
    name: "a message of an unknown type 'z' (catches: unknown types forwarded to a shared server)",
    loggedIn: true,
    bytes: () => frame('z', Buffer.from('hello')),
    message: /^invalid frontend message type 122 \('z'\)$/,
  },
  {
    name: 'a Query cut short by FIN after login (catches: half a message left in a pooled server, or no answer)',
    loggedIn: true,
    bytes: () => frame('Q', Buffer.from('SELECT 1\0')).subarray(0, 9),
    halfClose: true,
    message: /^truncated message: the client closed the connection in the middle of a message$/,
  },
  {
    name: 'random bytes after login (catches: garbage on the forwarding path reaching a server)',
    loggedIn: true,
    bytes: () => noise(11, 256),
    message: /^(invalid message length -?\d+ for message type .*|message type .* declares \d+ bytes, more than max_packet_size .*|invalid frontend message type .*)$/,
  },
];

describe('bad input gets FATAL 08P01 and only that client is closed', () => {
  it.each(CASES)('$name', async (c) => {
    const conn = await RawClient.open(mux.port);
    try {
      if (c.loggedIn) await conn.login(startup(), 'app', cluster.password);
      const sent = Date.now();
      conn.send(c.bytes());
      if (c.halfClose) conn.socket.end();
      const { fields, closedAt } = await conn.refusal({ sole: true });
      expect(fields).toMatchObject({ S: 'FATAL', C: '08P01' });
      expect(fields.M).toMatch(c.message);
      expect(closedAt - sent).toBeLessThan(1000);
    } finally {
      conn.destroy();
    }
    expect(isAlive(mux.pid)).toBe(true);
    // The bystander's transaction is still open on its server and sees its own row.
    const r = await bystander.query('SELECT count(*)::int AS n FROM bystander');
    expect(r.rows).toEqual([{ n: 1 }]);
  });

  it('leaves the bystander able to COMMIT, and pgmux serving new clients (catches: bad input breaking other sessions or the process)', async () => {
    await bystander.query('INSERT INTO bystander VALUES (2)');
    await bystander.query('COMMIT');
    const fresh = await pgClient(mux.port, 'app', cluster.password);
    try {
      const r = await fresh.query('SELECT array_agg(n ORDER BY n) AS ns FROM bystander');
      expect(r.rows).toEqual([{ ns: [1, 2] }]);
    } finally {
      await fresh.end();
    }
    expect(isAlive(mux.pid)).toBe(true);
    expect(mux.logs()).not.toMatch(/uncaught|unhandled|TypeError|RangeError/i);
  });
});
