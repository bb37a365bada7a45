// Owns the fuzzer's five families of cases, each a connection's worth of bytes and what the
// oracle expects of them:
//
//   before-auth  openings: StartupMessages (valid, mutated, cut), SSL/GSS/cancel requests, other
//                protocol versions, other protocols' openings (HTTP, TLS, SSH, Redis, MongoDB,
//                TDS, MySQL), random bytes
//   during-auth  answers to a real challenge (md5, SCRAM, cleartext, a made-up user's): wrong,
//                mutated, mistyped, oversized, cut, random
//   after-login  a logged-in client's good messages, then garbage: random bytes, a header
//                PostgreSQL refuses, a mutated message, a message cut short; also on a pool whose
//                only server is taken, so the client waits in the queue meanwhile
//   sequences    random well-framed message sequences (extended protocol, COPY, prepared
//                statements, Terminate...), sometimes pipelined into the login
//   console      the admin console: commands, mutated commands, messages it does not take
//
// A case is a pure function of (seed, number): Rng.forCase.

import { cstr, header, i16, i32, lengthLie, mutate, startupPacket, typed, untyped } from './bytes';
import { authVerdict, CONSOLE, FRONTEND, sessionVerdict, startupVerdict, type Verdict } from './oracle';
import { Rng } from './prng';

export const FAMILIES = ['before-auth', 'during-auth', 'after-login', 'sequences', 'console'] as const;
export type Family = (typeof FAMILIES)[number];

/** pkt_buf of the fuzzed pgmux: a queued client is read up to this many bytes. */
export const PKT_BUF = 4096;

/** Databases of the fuzzed pgmux and whether a request there is answered (busy: its one server is held). */
export const DATABASES = { app: true, app_session: true, app_statement: true, busy: false } as const;
export type Database = keyof typeof DATABASES;

export type Setup =
  | { readonly kind: 'none' }
  /** StartupMessage sent, the first challenge read; the bytes are the answer. */
  | { readonly kind: 'challenge'; readonly user: string; readonly database: string }
  /** Logged in as app_md5 (md5); `pipelined`: the bytes follow the password without waiting for ReadyForQuery. */
  | { readonly kind: 'login'; readonly user: string; readonly database: string; readonly pipelined: boolean };

export interface Case {
  readonly family: Family;
  readonly n: number;
  readonly setup: Setup;
  readonly bytes: Buffer;
  /** Chunk sizes, cycled; how the runner yields between chunks. */
  readonly chunks: readonly number[];
  readonly pause: 'none' | 'immediate' | 'timer';
  /** FIN (must close within 5 s) or RST after the verdict. */
  readonly ending: 'fin' | 'rst';
  readonly verdict: Verdict;
}

/** Users of the fuzzed pgmux: md5, SCRAM, cleartext, and one it does not know. */
export const PASSWORD_USERS = { app_md5: 'md5', app: 'scram', app_plain: 'cleartext', ghost: 'scram' } as const;

const NAMES = ['', 'app', 'app_md5', 'user', 'database', 'options', 'application_name', 's1', 'S_1', 'x', 'pgbouncer', 'busy', 'replication', '_pq_.x', 'client_encoding'];

function text(rng: Rng): string {
  return rng.weighted<string>([
    [4, rng.pick(NAMES)],
    [3, rng.bytes(rng.int(0, 12)).toString('latin1').replace(/\0/g, '')],
    [1, rng.bytes(rng.int(0, 40)).toString('utf8')],
    [1, 'x'.repeat(rng.int(100, 6000))],
  ]);
}

const SQL = [
  'SELECT 1',
  'SELECT $1::int',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SELECT pg_backend_pid()',
  'COPY (SELECT 1) TO STDOUT',
  'COPY fuzz_sink FROM STDIN',
  'PREPARE s1 AS SELECT 1',
  'EXECUTE s1',
  'DEALLOCATE ALL',
  'DISCARD ALL',
  "SET application_name = 'fuzz'",
  'SET statement_timeout = 1',
  'LISTEN fuzz',
  'SELECT 1; SELECT 2',
  'INSERT INTO fuzz_sink VALUES ($1)',
  'SELEC',
  '',
];

function sql(rng: Rng): string {
  return rng.chance(0.8) ? rng.pick(SQL) : text(rng);
}

function noise(rng: Rng, max = 64): Buffer {
  return rng.bytes(rng.size(max));
}

// ---- delivery ----

function chunks(rng: Rng): number[] {
  return rng.weighted<number[]>([
    [4, [1 << 20]],
    [2, [1]],
    [2, [rng.int(1, 7), rng.int(1, 7)]],
    [2, [rng.int(1, 64), rng.int(1, 512)]],
    [1, [4, 1]],
  ]);
}

function delivery(rng: Rng): Pick<Case, 'chunks' | 'pause' | 'ending'> {
  return {
    chunks: chunks(rng),
    pause: rng.weighted<Case['pause']>([
      [5, 'none'],
      [4, 'immediate'],
      [1, 'timer'],
    ]),
    ending: rng.chance(0.9) ? 'fin' : 'rst',
  };
}

// ---- before auth ----

const OPENINGS: readonly ((rng: Rng) => Buffer)[] = [
  () => Buffer.from('GET / HTTP/1.1\r\nHost: db\r\n\r\n'),
  () => Buffer.from('POST /query HTTP/1.1\r\nContent-Length: 0\r\n\r\n'),
  () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  // TLS ClientHello record without SSLRequest.
  (rng) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03]), rng.bytes(rng.int(0, 190))]),
  () => Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'),
  () => Buffer.from('*1\r\n$4\r\nPING\r\n'),
  // MongoDB OP_MSG (little-endian length first).
  (rng) => Buffer.concat([Buffer.from([0x3a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0]), rng.bytes(42)]),
  // TDS prelogin (SQL Server).
  (rng) => Buffer.concat([Buffer.from([0x12, 0x01, 0x00, 0x2f, 0x00, 0x00, 0x01, 0x00]), rng.bytes(39)]),
  // MySQL handshake response (3-byte little-endian length, sequence id).
  (rng) => Buffer.concat([Buffer.from([0x55, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01]), rng.bytes(77)]),
  // Oracle TNS connect (big-endian 2-byte length, then zeros).
  (rng) => Buffer.concat([Buffer.from([0x00, 0x3a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]), rng.bytes(50)]),
  (rng) => rng.bytes(rng.int(1, 64)),
  (rng) => Buffer.concat([Buffer.from([0]), rng.bytes(rng.int(0, 16))]),
];

function startupParams(rng: Rng): [string, string][] {
  const out: [string, string][] = [];
  if (rng.chance(0.9)) out.push(['user', rng.chance(0.8) ? rng.pick(['app_md5', 'app', 'app_plain', 'ghost', 'admin']) : text(rng)]);
  if (rng.chance(0.8)) out.push(['database', rng.chance(0.8) ? rng.pick(['app', 'app_session', 'busy', 'pgbouncer', 'nosuch']) : text(rng)]);
  for (let i = rng.int(0, 3); i > 0; i--) out.push([text(rng), text(rng)]);
  return out;
}

function beforeAuth(rng: Rng): Buffer {
  const valid = (): Buffer => startupPacket(startupParams(rng), rng.chance(0.1) ? rng.int(1, 3) : 0);
  return rng.weighted<() => Buffer>([
    [3, valid],
    [5, () => mutate(rng, valid(), 0)],
    [2, () => Buffer.concat([untyped(i32(rng.pick([80877103, 80877104]))), rng.chance(0.7) ? valid() : mutate(rng, valid(), 0)])],
    [3, () => rng.pick(OPENINGS)(rng)],
    [1, () => untyped(i32(80877102), i32(rng.next()), i32(rng.next()), rng.chance(0.3) ? noise(rng, 8) : Buffer.alloc(0))],
    [1, () => untyped(i32(rng.pick([2 << 16, 4 << 16, (1234 << 16) | 5678, 0, -1])), cstr('user'), cstr('app_md5'), Buffer.from([0]))],
    [2, () => {
      const v = valid();
      return v.subarray(0, rng.int(0, v.length - 1));
    }],
    [1, () => Buffer.concat([valid(), noise(rng)])],
    [1, () => mutate(rng, untyped(i32(rng.pick([80877103, 80877104]))), 0)],
  ])();
}

// ---- during auth ----

function md5Shaped(rng: Rng): string {
  return `md5${rng.bytes(16).toString('hex')}`;
}

function authAnswer(rng: Rng, method: string): Buffer {
  const clientFirst = `${rng.pick(['n', 'y', 'p=tls-unique', 'x'])},,n=${rng.chance(0.5) ? '' : text(rng)},r=${rng.bytes(rng.int(0, 24)).toString('base64')}`;
  const saslInitial = (): Buffer => {
    const data = Buffer.from(rng.chance(0.8) ? clientFirst : text(rng), 'latin1');
    const declared = rng.chance(0.8) ? data.length : lengthLie(rng, data.length);
    return typed('p', cstr(rng.chance(0.85) ? 'SCRAM-SHA-256' : text(rng)), i32(declared), data);
  };
  const password = (): Buffer => typed('p', cstr(method === 'md5' && rng.chance(0.7) ? md5Shaped(rng) : text(rng)));
  const good = method === 'scram' || method === 'ghost' ? saslInitial : password;
  return rng.weighted<() => Buffer>([
    [4, good],
    [3, () => mutate(rng, good(), 1)],
    [1, () => typed('p', Buffer.from(`c=biws,r=${rng.bytes(8).toString('base64')},p=${rng.bytes(32).toString('base64')}`))],
    [2, () => Buffer.concat([header(rng.int(0, 255), rng.int(4, 40)), noise(rng, 36)])],
    [2, () => header('p', rng.pick([65536, 65540, 100000, 0x7fffffff, 3, 0, -5]))],
    [2, () => noise(rng)],
    [1, () => {
      const g = good();
      return g.subarray(0, rng.int(0, g.length - 1));
    }],
    [1, () => Buffer.concat([good(), noise(rng)])],
    [1, () => typed('X')],
    [1, () => startupPacket([['user', 'app_md5']])],
  ])();
}

// ---- after login ----

function query(rng: Rng): Buffer {
  return typed('Q', cstr(sql(rng)));
}

function extended(rng: Rng): Buffer[] {
  const name = rng.chance(0.5) ? '' : rng.pick(['s1', 'S_1', '__asyncpg_stmt_1__']);
  const q = rng.pick(['SELECT 1', 'SELECT $1::int', 'BEGIN', 'INSERT INTO fuzz_sink VALUES ($1)']);
  const params = q.includes('$1') ? 1 : 0;
  return [
    typed('P', cstr(name), cstr(q), i16(0)),
    typed('B', cstr(''), cstr(name), i16(0), i16(params), ...(params ? [i32(1), Buffer.from('7')] : []), i16(0)),
    typed('E', cstr(''), i32(0)),
    typed('S'),
  ];
}

/** A header PostgreSQL refuses: a type no client sends, or a length past the type's bound (or under 4). */
function badHeader(rng: Rng): Buffer {
  const foreign = [...Array(256).keys()].filter((t) => !FRONTEND.has(t));
  return rng.weighted<() => Buffer>([
    [3, () => Buffer.concat([header(rng.pick(foreign), rng.int(4, 64)), noise(rng, 16)])],
    [2, () => header('Q', rng.pick([0x7ffffff0, 0x40000000, 0x7fffffff]))],
    [2, () => header(rng.pick(['S', 'H', 'X', 'C', 'D', 'E', 'c', 'f']), rng.pick([10001, 70000, 0x7ffffff0, 1 << 20]))],
    [1, () => header(rng.pick([...FRONTEND.keys()]), rng.int(-10, 3))],
  ])();
}

function afterLoginBytes(rng: Rng): Buffer {
  const prefix: Buffer[] = [];
  for (let i = rng.int(0, 2); i > 0; i--) prefix.push(...(rng.chance(0.5) ? [query(rng)] : extended(rng)));
  const tail = rng.weighted<() => Buffer>([
    [3, () => noise(rng, 256)],
    [4, () => badHeader(rng)],
    [2, () => mutate(rng, rng.chance(0.5) ? query(rng) : Buffer.concat(extended(rng)), 1)],
    [1, () => {
      const q = query(rng);
      return q.subarray(0, rng.int(1, q.length - 1));
    }],
  ])();
  return Buffer.concat([...prefix, tail]);
}

// ---- message sequences ----

function statementName(rng: Rng): string {
  return rng.chance(0.7) ? rng.pick(['', 's1', 'S_1', '__asyncpg_stmt_1__', 'p1']) : text(rng);
}

function sequenceMessage(rng: Rng): Buffer {
  return rng.weighted<() => Buffer>([
    [4, () => query(rng)],
    [3, () => typed('P', cstr(statementName(rng)), cstr(sql(rng)), i16(rng.int(0, 2)), ...Array.from({ length: rng.int(0, 2) }, () => i32(rng.pick([0, 23, 25, -1, 99999]))))],
    [3, () => {
      const values = Array.from({ length: rng.int(0, 2) }, () => (rng.chance(0.2) ? i32(-1) : Buffer.concat([i32(1), Buffer.from(String(rng.int(0, 9)))])));
      return typed('B', cstr(statementName(rng)), cstr(statementName(rng)), i16(rng.int(0, 1)), ...(rng.chance(0.3) ? [i16(rng.int(0, 1))] : []), i16(values.length), ...values, i16(0));
    }],
    [2, () => typed('D', Buffer.from(rng.pick(['S', 'P', 'x'])), cstr(statementName(rng)))],
    [2, () => typed('E', cstr(statementName(rng)), i32(rng.int(-1, 3)))],
    [1, () => typed('C', Buffer.from(rng.pick(['S', 'P', '\0'])), cstr(statementName(rng)))],
    [4, () => typed('S')],
    [1, () => typed('H')],
    [1, () => typed('d', noise(rng))],
    [1, () => typed('c')],
    [1, () => typed('f', cstr(text(rng)))],
    [1, () => typed('F', noise(rng, 32))],
    [1, () => Buffer.concat(extended(rng))],
  ])();
}

function sequenceBytes(rng: Rng): Buffer {
  const messages: Buffer[] = [];
  for (let i = rng.int(1, 10); i > 0; i--) messages.push(sequenceMessage(rng));
  if (rng.chance(0.7)) messages.push(rng.chance(0.7) ? typed('S') : query(rng));
  if (rng.chance(0.05)) messages.push(typed('X'));
  return Buffer.concat(messages);
}

// ---- console ----

const CONSOLE_COMMANDS = [
  'SHOW POOLS',
  'SHOW CLIENTS',
  'SHOW SERVERS',
  'SHOW STATS',
  'SHOW STATS_TOTALS',
  'SHOW STATS_AVERAGES',
  'SHOW TOTALS',
  'SHOW CONFIG',
  'SHOW DATABASES',
  'SHOW USERS',
  'SHOW LISTS',
  'SHOW MEM',
  'SHOW FDS',
  'SHOW VERSION',
  'SHOW SOCKETS',
  'SHOW ACTIVE_SOCKETS',
  'SHOW HELP',
  'SHOW DNS_HOSTS',
  'SHOW DNS_ZONES',
  'SHOW STATE',
  'show pools;',
  'SHOW',
  'SHOW nonsense',
  'SELECT 1',
  '',
];

function consoleBytes(rng: Rng): Buffer {
  const command = (): Buffer => typed('Q', cstr(rng.chance(0.8) ? rng.pick(CONSOLE_COMMANDS) : text(rng)));
  const messages: Buffer[] = [];
  for (let i = rng.int(1, 3); i > 0; i--) {
    messages.push(
      rng.weighted<() => Buffer>([
        [5, command],
        [2, () => mutate(rng, command(), 1)],
        [1, () => Buffer.concat(extended(rng))],
        [1, () => badHeader(rng)],
        [1, () => header('Q', rng.pick([65537, 100000, 0x7ffffff0]))],
        [1, () => noise(rng)],
      ])(),
    );
  }
  return Buffer.concat(messages);
}

// ---- cases ----

/** Case `n` of the run under `seed`: its family is n mod 5, so every family gets a fifth. */
export function makeCase(seed: number, n: number): Case {
  const rng = Rng.forCase(seed, n);
  const family = FAMILIES[n % FAMILIES.length]!;
  const base = { family, n, ...delivery(rng) };
  switch (family) {
    case 'before-auth': {
      const bytes = beforeAuth(rng);
      return { ...base, setup: { kind: 'none' }, bytes, verdict: startupVerdict(bytes) };
    }
    case 'during-auth': {
      const user = rng.pick(Object.keys(PASSWORD_USERS) as (keyof typeof PASSWORD_USERS)[]);
      const bytes = authAnswer(rng, user === 'ghost' ? 'ghost' : PASSWORD_USERS[user]);
      return { ...base, setup: { kind: 'challenge', user, database: rng.pick(['app', 'app_session']) }, bytes, verdict: authVerdict(bytes) };
    }
    case 'after-login': {
      const database = rng.pick(Object.keys(DATABASES) as Database[]);
      let bytes = afterLoginBytes(rng);
      // A queued client is read up to pkt_buf: keep what it sends within that, so its FIN is seen.
      if (!DATABASES[database]) bytes = bytes.subarray(0, PKT_BUF - 1);
      const verdict = sessionVerdict(bytes, FRONTEND, DATABASES[database]);
      return { ...base, setup: { kind: 'login', user: 'app_md5', database, pipelined: rng.chance(0.2) }, bytes, verdict };
    }
    case 'sequences': {
      const database = rng.pick(['app', 'app_session', 'app_statement'] as const);
      const bytes = sequenceBytes(rng);
      return { ...base, setup: { kind: 'login', user: 'app_md5', database, pipelined: rng.chance(0.3) }, bytes, verdict: sessionVerdict(bytes, FRONTEND, true) };
    }
    case 'console': {
      const bytes = consoleBytes(rng);
      return { ...base, setup: { kind: 'login', user: 'admin', database: 'pgbouncer', pipelined: false }, bytes, verdict: sessionVerdict(bytes, CONSOLE, true) };
    }
  }
}
