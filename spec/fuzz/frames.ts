// Owns the fuzzer's inputs: fast-check arbitraries for client byte streams in the startup, auth
// and query phases, from well-formed messages with random fields to wrong lengths, truncation,
// foreign message types and plain noise. Written out byte by byte (independent of lib/protocol),
// so the fuzzer checks pgmux against the protocol, not against itself.

import fc from 'fast-check';

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};
const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(((n + 0x8000) & 0xffff) - 0x8000);
  return b;
};
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/**
 * How a frame's length field is written: true (body + 4), off by a small amount, any int32, or
 * a huge value (a declared message pgmux must not wait for or buffer).
 */
export const lengthLie: fc.Arbitrary<(trueLength: number) => number> = fc.oneof(
  { weight: 8, arbitrary: fc.constant((n: number) => n) },
  { weight: 2, arbitrary: fc.integer({ min: -8, max: 8 }).map((d) => (n: number) => n + d) },
  { weight: 1, arbitrary: fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((v) => () => v) },
  { weight: 1, arbitrary: fc.constantFrom(0x7fffffff, 0x40000000, 0x10000000, 1 << 24).map((v) => () => v) },
);

/** A typed message: type byte, int32 length, body. */
export function typed(type: number, body: Buffer, lie: (n: number) => number = (n) => n): Buffer {
  return Buffer.concat([Buffer.from([type & 0xff]), int32(lie(body.length + 4)), body]);
}

/** An untyped startup-phase packet. */
export function untyped(body: Buffer, lie: (n: number) => number = (n) => n): Buffer {
  return Buffer.concat([int32(lie(body.length + 4)), body]);
}

/** Names and values a fuzzer may put in a protocol string: short, sometimes odd, rarely long. */
const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', 'app', 'app_md5', 'user', 'database', 'options', 's1', 'S_1', 'p1', 'SCRAM-SHA-256', 'md5', 'x') },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(5000)) },
);

/** A byte string, mostly short. */
const noise: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

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
  'SELEC',
  '',
];
const sql: fc.Arbitrary<string> = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SQL) }, { weight: 1, arbitrary: text });

// ---- startup phase ----

const PROTOCOLS = [196608, 196609, 196610, 131072, 80877103, 80877104, 80877102, 0, -1, 1234 << 16];

/** A StartupMessage (or its look-alikes), fields random, terminators sometimes missing. */
const startupPacket: fc.Arbitrary<Buffer> = fc
  .record({
    version: fc.oneof(fc.constantFrom(...PROTOCOLS), fc.integer({ min: -0x80000000, max: 0x7fffffff })),
    params: fc.array(fc.tuple(text, text), { maxLength: 5 }),
    withUser: fc.boolean(),
    terminated: fc.boolean(),
    lie: lengthLie,
  })
  .map(({ version, params, withUser, terminated, lie }) => {
    const pairs: Buffer[] = params.map(([k, v]) => Buffer.concat([cstr(k), cstr(v)]));
    if (withUser) pairs.unshift(cstr('user'), cstr('app_md5'), cstr('database'), cstr('app'));
    return untyped(Buffer.concat([int32(version), ...pairs, terminated ? Buffer.from([0]) : Buffer.alloc(0)]), lie);
  });

const specialRequest: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(untyped(int32(80877103))),
  fc.constant(untyped(int32(80877104))),
  fc.tuple(fc.integer(), fc.integer(), noise).map(([pid, key, extra]) => untyped(Buffer.concat([int32(80877102), int32(pid), int32(key), extra]))),
  fc.tuple(lengthLie, noise).map(([lie, extra]) => untyped(Buffer.concat([int32(80877103), extra]), lie)),
);

/** Bytes a client sends before (or instead of) logging in. */
export const startupBytes: fc.Arbitrary<Buffer[]> = fc.array(
  fc.oneof({ weight: 4, arbitrary: startupPacket }, { weight: 2, arbitrary: specialRequest }, { weight: 1, arbitrary: noise }),
  { minLength: 1, maxLength: 4 },
);

// ---- auth phase ----

/** Users the fuzzed pgmux knows (and how it asks them) and one it does not. */
export const AUTH_USERS = ['app_md5', 'app', 'app_plain', 'ghost'] as const;

const clientFirst: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('n', 'y', 'p=tls-unique', 'x', ''), text, fc.string({ maxLength: 24 })).map(([cb, user, nonce]) => `${cb},,n=${user},r=${nonce}`),
  fc.constantFrom('n,,n=,r=abc', 'n,a=bob,n=,r=abc', 'n,,m=ext,n=,r=abc', 'n,,n=,r=a,b', 'n,,'),
  text,
);

const clientFinal: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('biws', 'eSws', 'x'), fc.string({ maxLength: 40 }), fc.constantFrom('', ',x=1'), fc.base64String({ maxLength: 48 })).map(
    ([c, r, ext, p]) => `c=${c},r=${r}${ext},p=${p}`,
  ),
  text,
);

/** 'p' messages in every shape: password, SASLInitialResponse, SASLResponse, and wrong ones. */
const authMessage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(text, lengthLie).map(([pw, lie]) => typed(0x70, cstr(pw), lie)),
  fc
    .record({ mech: fc.oneof(fc.constant('SCRAM-SHA-256'), text), data: clientFirst, declared: fc.option(fc.integer({ min: -2, max: 100 })), lie: lengthLie })
    .map(({ mech, data, declared, lie }) => {
      const d = Buffer.from(data, 'latin1');
      return typed(0x70, Buffer.concat([cstr(mech), int32(declared ?? d.length), d]), lie);
    }),
  fc.tuple(clientFinal, lengthLie).map(([data, lie]) => typed(0x70, Buffer.from(data, 'latin1'), lie)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), noise, lengthLie).map(([t, body, lie]) => typed(t, body, lie)),
  noise,
);

export interface AuthCase {
  user: (typeof AUTH_USERS)[number];
  /** Whether to wait for the server's first challenge before sending `messages`. */
  waitForChallenge: boolean;
  messages: Buffer[];
}

export const authCase: fc.Arbitrary<AuthCase> = fc.record({
  user: fc.constantFrom(...AUTH_USERS),
  waitForChallenge: fc.boolean(),
  messages: fc.array(authMessage, { minLength: 1, maxLength: 4 }),
});

// ---- query phase ----

const statementName = fc.oneof(fc.constantFrom('', 's1', 'S_1', '__asyncpg_stmt_1__'), text);

/** One frontend message of the query phase, well-formed or not. */
const queryMessage: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(sql, lengthLie).map(([q, lie]) => typed(0x51, cstr(q), lie)) },
  {
    weight: 3,
    arbitrary: fc
      .record({ name: statementName, q: sql, types: fc.array(fc.integer({ min: -1, max: 5000 }), { maxLength: 3 }), count: fc.option(fc.integer({ min: -2, max: 5 })), lie: lengthLie })
      .map(({ name, q, types, count, lie }) => typed(0x50, Buffer.concat([cstr(name), cstr(q), int16(count ?? types.length), ...types.map(int32)]), lie)),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        portal: statementName,
        stmt: statementName,
        formats: fc.array(fc.integer({ min: -1, max: 2 }), { maxLength: 3 }),
        values: fc.array(fc.option(noise), { maxLength: 3 }),
        count: fc.option(fc.integer({ min: -1, max: 5 })),
        lie: lengthLie,
      })
      .map(({ portal, stmt, formats, values, count, lie }) =>
        typed(
          0x42,
          Buffer.concat([
            cstr(portal),
            cstr(stmt),
            int16(formats.length),
            ...formats.map(int16),
            int16(count ?? values.length),
            ...values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(v.length), v]))),
            int16(0),
          ]),
          lie,
        ),
      ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0x53, 0x50, 0x58), statementName, lengthLie).map(([t, n, lie]) => typed(0x44, Buffer.concat([Buffer.from([t]), cstr(n)]), lie)) },
  { weight: 2, arbitrary: fc.tuple(statementName, fc.integer({ min: -1, max: 3 }), lengthLie).map(([p, max, lie]) => typed(0x45, Buffer.concat([cstr(p), int32(max)]), lie)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x53, 0x50, 0x00), statementName).map(([t, n]) => typed(0x43, Buffer.concat([Buffer.from([t]), cstr(n)]))) },
  { weight: 3, arbitrary: fc.constant(typed(0x53, Buffer.alloc(0))) },
  { weight: 1, arbitrary: fc.constant(typed(0x48, Buffer.alloc(0))) },
  { weight: 1, arbitrary: fc.tuple(noise, lengthLie).map(([d, lie]) => typed(0x64, d, lie)) },
  { weight: 1, arbitrary: fc.constant(typed(0x63, Buffer.alloc(0))) },
  { weight: 1, arbitrary: fc.tuple(text).map(([m]) => typed(0x66, cstr(m))) },
  { weight: 1, arbitrary: fc.tuple(noise).map(([b]) => typed(0x46, b)) },
  { weight: 1, arbitrary: fc.constant(typed(0x58, Buffer.alloc(0))) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), noise, lengthLie).map(([t, b, lie]) => typed(t, b, lie)) },
  { weight: 1, arbitrary: noise },
);

/** Databases of the fuzzed pgmux, one per pool mode. */
export const QUERY_DATABASES = ['app', 'app_session', 'app_statement'] as const;

export interface QueryCase {
  database: (typeof QUERY_DATABASES)[number];
  /** Send the messages right after the password (pipelined into the login) or after ReadyForQuery. */
  pipelined: boolean;
  messages: Buffer[];
}

export const queryCase: fc.Arbitrary<QueryCase> = fc.record({
  database: fc.constantFrom(...QUERY_DATABASES),
  pipelined: fc.boolean(),
  messages: fc.array(queryMessage, { minLength: 1, maxLength: 8 }),
});

/** How the bytes reach pgmux: cut short somewhere, in chunks, then FIN or RST. */
export interface Delivery {
  /** Keep only this fraction of the bytes (1: all). */
  keep: number;
  /** Chunk sizes, cycled. */
  chunks: number[];
  ending: 'end' | 'destroy';
}

export const delivery: fc.Arbitrary<Delivery> = fc.record({
  keep: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }),
  chunks: fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 4 }),
  ending: fc.constantFrom('end', 'end', 'end', 'destroy'),
});
