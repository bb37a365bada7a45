// Specs for lib/auth against a real PostgreSQL 15: logging in over a raw socket, and matching its verifiers and errors.

import { Client } from 'pg';
import { md5Response, md5Secret } from '../../lib/auth/md5';
import { verifyCleartext } from '../../lib/auth/method';
import { ScramClient } from '../../lib/auth/scram-client';
import { ScramError } from '../../lib/auth/scram-common';
import { ScramServer } from '../../lib/auth/scram-server';
import { formatScramSecret, parseSecret, scramSecretFromPassword, type Secret } from '../../lib/auth/secret';
import { pgLogin } from './support/pg-sasl';
import { startPostgres, type TempPostgres } from './support/postgres';
import { RawClient, authRequest, errorFields, msg, type Frame } from '../support/wire';

const HBA = `
local all all trust
host all postgres 127.0.0.1/32 trust
host all md5user,md5utf 127.0.0.1/32 md5
host all all 127.0.0.1/32 scram-sha-256
`;

/** Passwords whose PostgreSQL verifier checks our SASLprep (NBSP, fullwidth, combining mark, a prohibited BEL). */
const PREP_PASSWORDS: Record<string, string> = {
  prep1: 'päss\u00a0wörd',
  prep2: 'ｐａｓｓ',
  prep3: 'pa\u0308ss',
  prep4: 'caf\u00e9\u0007',
};

let pg: TempPostgres;
let sql: Client;

async function rolpassword(role: string): Promise<string> {
  const { rows } = await sql.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
  return rows[0]!.rolpassword;
}

/** A role whose pg_authid entry is exactly `secret` (PostgreSQL stores a pre-hashed password verbatim). */
async function roleWithSecret(role: string, secret: string): Promise<void> {
  await sql.query(`CREATE ROLE ${role} LOGIN PASSWORD '${secret}'`);
  expect(await rolpassword(role)).toBe(secret);
}

beforeAll(async () => {
  pg = await startPostgres(HBA);
  sql = new Client({ host: '127.0.0.1', port: pg.port, user: 'postgres', database: 'postgres' });
  await sql.connect();
  await sql.query("CREATE ROLE alice LOGIN PASSWORD 'alice-pw'");
  for (const [role, password] of Object.entries(PREP_PASSWORDS)) {
    await sql.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  }
  await sql.query("SET password_encryption = 'md5'");
  await sql.query("CREATE ROLE md5user LOGIN PASSWORD 'md5-pw'");
  await sql.query("CREATE ROLE md5utf LOGIN PASSWORD 'pässwörd'");
  await sql.query("CREATE ROLE md5underscram LOGIN PASSWORD 'm-pw'");
});

afterAll(async () => {
  await sql?.end();
  await pg?.stop();
});

/** How a login ended: ReadyForQuery, or the server's ErrorResponse fields. */
type LoginOutcome = { ok: true } | { ok: false; error: Record<string, string> };

/** Reads frames after the password exchange until ReadyForQuery or an ErrorResponse. */
async function finishLogin(conn: RawClient): Promise<LoginOutcome> {
  for (;;) {
    const f = await conn.next();
    if (f.type === 'E') return { ok: false, error: errorFields(f.body) };
    if (f.type === 'Z') return { ok: true };
  }
}

/** The Authentication request in `f`; fails on anything else (with the error's fields, if one). */
function auth(f: Frame): { code: number; data: Buffer } {
  if (f.type !== 'R') throw new Error(`expected Authentication, got '${f.type}' ${JSON.stringify(errorFields(f.body))}`);
  return authRequest(f.body);
}

/** Opens a connection, sends the startup packet, runs `dialog`, always closes. */
async function withConnection<T>(user: string, dialog: (conn: RawClient) => Promise<T>): Promise<T> {
  const conn = await RawClient.open(pg.port);
  try {
    conn.send(msg.startup({ user, database: 'postgres' }));
    return await dialog(conn);
  } finally {
    await conn.close();
  }
}

/** A full SCRAM login by `client`; throws if the server's signature does not verify. */
function scramLogin(user: string, client: ScramClient): Promise<LoginOutcome> {
  return withConnection(user, async (conn) => {
    const sasl = auth(await conn.next());
    expect(sasl.code).toBe(10);
    expect(sasl.data.toString('latin1').split('\0')).toContain('SCRAM-SHA-256');
    const first = client.initialResponse();
    conn.send(msg.saslInitialResponse(first.mechanism, first.data));
    const cont = await conn.next();
    if (cont.type === 'E') return { ok: false, error: errorFields(cont.body) };
    conn.send(msg.saslResponse(client.serverFirst(auth(cont).data)));
    const final = await conn.next();
    if (final.type === 'E') return { ok: false, error: errorFields(final.body) };
    const fin = auth(final);
    expect(fin.code).toBe(12);
    client.serverFinal(fin.data);
    return finishLogin(conn);
  });
}

function md5Login(user: string, secretOrPlain: string): Promise<LoginOutcome> {
  return withConnection(user, async (conn) => {
    const challenge = auth(await conn.next());
    expect(challenge.code).toBe(5);
    conn.send(msg.password(md5Response(secretOrPlain, user, challenge.data)));
    return finishLogin(conn);
  });
}

/** PostgreSQL's error for a client-first-message, as {summary, detail, sqlState}. */
function pgClientFirstError(user: string, data: string): Promise<Record<string, string | undefined>> {
  return withConnection(user, async (conn) => {
    auth(await conn.next());
    conn.send(msg.saslInitialResponse('SCRAM-SHA-256', Buffer.from(data, 'latin1')));
    const f = await conn.next();
    expect(f.type).toBe('E');
    const e = errorFields(f.body);
    return { summary: e.M, detail: e.D, sqlState: e.C };
  });
}

/** PostgreSQL's error for a client-final-message built from its server-first-message. */
function pgClientFinalError(user: string, first: string, final: (combinedNonce: string) => string): Promise<Record<string, string | undefined>> {
  return withConnection(user, async (conn) => {
    auth(await conn.next());
    conn.send(msg.saslInitialResponse('SCRAM-SHA-256', Buffer.from(first, 'latin1')));
    const serverFirst = auth(await conn.next()).data.toString('latin1');
    const nonce = /^r=([^,]+),/.exec(serverFirst)![1]!;
    conn.send(msg.saslResponse(Buffer.from(final(nonce), 'latin1')));
    const f = await conn.next();
    expect(f.type).toBe('E');
    const e = errorFields(f.body);
    return { summary: e.M, detail: e.D, sqlState: e.C };
  });
}

function ourError(fn: () => unknown): Record<string, string | undefined> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScramError) return { summary: err.summary, detail: err.detail, sqlState: err.sqlState };
    throw err;
  }
  throw new Error('expected a ScramError');
}

describe('ScramClient logging in to PostgreSQL', () => {
  it('succeeds with the password, and verifies the server signature', async () => {
    expect(await scramLogin('alice', new ScramClient({ password: 'alice-pw' }))).toEqual({ ok: true });
  });

  it('is refused with a wrong password (28P01)', async () => {
    const outcome = await scramLogin('alice', new ScramClient({ password: 'wrong' }));
    expect(outcome).toMatchObject({ ok: false, error: { C: '28P01', M: 'password authentication failed for user "alice"' } });
  });

  it.each([
    ['bob', 7, 4096],
    ['carol', 32, 10000],
    ['dave', 1, 1],
  ])('works with a verifier set by ALTER ROLE (%s: %i-byte salt, %i iterations)', async (role, saltLength, iterations) => {
    const secret = scramSecretFromPassword(`${role}-pw`, Buffer.alloc(saltLength, 0x42), iterations);
    await roleWithSecret(role, formatScramSecret(secret));
    expect(await scramLogin(role, new ScramClient({ password: `${role}-pw` }))).toEqual({ ok: true });
  });
});

describe("PgBouncer's trick: a client's SCRAM proof reused toward PostgreSQL", () => {
  it.each([
    ['erin', Buffer.from('seven!!'), 4096],
    ['frank', Buffer.alloc(16, 9), 4096],
    ['gina', Buffer.alloc(24, 3), 5000],
  ])('%s: auth_file and pg_authid hold the same verifier; the keys ScramServer recovers log in', async (role, salt, iterations) => {
    const text = formatScramSecret(scramSecretFromPassword(`${role}-pw`, salt, iterations));
    await roleWithSecret(role, text);
    // The client logs in to pgmux (node-postgres's SCRAM code against our ScramServer) ...
    const front = await pgLogin(new ScramServer(parseSecret(text), role), `${role}-pw`);
    if (!front.ok) throw new Error(front.reason);
    // ... and pgmux, knowing no password, logs in to PostgreSQL with the recovered keys.
    const back = new ScramClient({ clientKey: front.clientKey, serverKey: front.serverKey });
    expect(await scramLogin(role, back)).toEqual({ ok: true });
  });
});

describe('verifiers PostgreSQL generates', () => {
  it('parse as SCRAM secrets that ScramServer, verifyCleartext and our derivation agree with', async () => {
    const stored = parseSecret(await rolpassword('alice'));
    if (stored.kind !== 'scram') throw new Error(`expected a SCRAM verifier, got ${stored.kind}`);
    expect(scramSecretFromPassword('alice-pw', stored.salt, stored.iterations)).toEqual(stored);
    expect(verifyCleartext(stored, 'alice', 'alice-pw')).toBe(true);
    expect(verifyCleartext(stored, 'alice', 'alice-pW')).toBe(false);
    expect((await pgLogin(new ScramServer(stored, 'alice'), 'alice-pw')).ok).toBe(true);
    expect((await pgLogin(new ScramServer(stored, 'alice'), 'nope')).ok).toBe(false);
  });

  it.each(Object.entries(PREP_PASSWORDS))('match our SASLprep for %s (%j)', async (role, password) => {
    const stored = parseSecret(await rolpassword(role)) as Secret & { kind: 'scram' };
    expect(scramSecretFromPassword(password, stored.salt, stored.iterations)).toEqual(stored);
    expect(await scramLogin(role, new ScramClient({ password }))).toEqual({ ok: true });
  });

  it('md5: pg_authid holds exactly md5Secret(user, password), UTF-8 included', async () => {
    expect(await rolpassword('md5user')).toBe(md5Secret('md5user', 'md5-pw'));
    expect(await rolpassword('md5utf')).toBe(md5Secret('md5utf', 'pässwörd'));
  });
});

describe('md5Response logging in to PostgreSQL', () => {
  it('succeeds from the plain password and from the stored hash', async () => {
    expect(await md5Login('md5user', 'md5-pw')).toEqual({ ok: true });
    expect(await md5Login('md5user', md5Secret('md5user', 'md5-pw'))).toEqual({ ok: true });
    expect(await md5Login('md5utf', 'pässwörd')).toEqual({ ok: true });
  });

  it('is refused with a wrong password', async () => {
    expect(await md5Login('md5user', 'wrong')).toMatchObject({ ok: false, error: { C: '28P01' } });
  });
});

describe('ScramServer behaves as PostgreSQL does', () => {
  it.each([
    'p=tls-server-end-point,,n=,r=abc',
    'x,,n=,r=abc',
    'n;,n=,r=abc',
    'n,a=bob,n=,r=abc',
    'n,,m=ext,n=,r=abc',
    'n,,r=abc',
    'n,,n=,r=a b',
  ])('rejects client-first-message %j with the same error', async (message) => {
    const theirs = await pgClientFirstError('alice', message);
    const ours = ourError(() => new ScramServer(parseSecret('pw'), 'alice').clientFirst(Buffer.from(message, 'latin1')));
    expect(ours).toEqual(theirs);
  });

  const proof = Buffer.alloc(32).toString('base64');
  it.each<[string, string, (nonce: string) => string]>([
    ['a y/n channel-binding mismatch', 'n,,n=,r=C', (r) => `c=eSws,r=${r},p=${proof}`],
    ['c=biws after the y flag', 'y,,n=,r=C', (r) => `c=biws,r=${r},p=${proof}`],
    ['a wrong nonce', 'n,,n=,r=C', (r) => `c=biws,r=${r}X,p=${proof}`],
    ['a short proof', 'n,,n=,r=C', (r) => `c=biws,r=${r},p=AAAA`],
    ['garbage after the proof', 'n,,n=,r=C', (r) => `c=biws,r=${r},p=${proof},x=1`],
    ['no proof', 'n,,n=,r=C', (r) => `c=biws,r=${r}`],
  ])('rejects a client-final-message with %s with the same error', async (_case, first, final) => {
    const theirs = await pgClientFinalError('alice', first, final);
    const server = new ScramServer(parseSecret('pw'), 'alice');
    const nonce = /^r=([^,]+),/.exec(server.clientFirst(Buffer.from(first, 'latin1')))![1]!;
    const ours = ourError(() => server.clientFinal(Buffer.from(final(nonce), 'latin1')));
    expect(ours).toEqual(theirs);
  });

  it.each([
    ['a missing user', 'ghost', undefined],
    ['an md5 secret under scram-sha-256', 'md5underscram', parseSecret(md5Secret('md5underscram', 'm-pw'))],
  ])('runs the full exchange for %s and fails only at the end, like a wrong password', async (_case, role, secret) => {
    // PostgreSQL: a 16-byte mock salt, 4096 iterations, then 28P01.
    let serverFirst = '';
    const theirs = await withConnection(role, async (conn) => {
      auth(await conn.next());
      const client = new ScramClient({ password: 'm-pw' });
      const first = client.initialResponse();
      conn.send(msg.saslInitialResponse(first.mechanism, first.data));
      serverFirst = auth(await conn.next()).data.toString('latin1');
      conn.send(msg.saslResponse(client.serverFirst(Buffer.from(serverFirst, 'latin1'))));
      return errorFields((await conn.next()).body);
    });
    expect(theirs).toMatchObject({ C: '28P01', M: `password authentication failed for user "${role}"` });
    expect(serverFirst).toMatch(/^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
    // ScramServer: the same shape of challenge, then ok: false.
    const server = new ScramServer(secret, role);
    const client = new ScramClient({ password: 'm-pw' });
    const ourFirst = server.clientFirst(client.initialResponse().data);
    expect(ourFirst).toMatch(/^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
    expect(server.clientFinal(client.serverFirst(Buffer.from(ourFirst, 'latin1')))).toMatchObject({ ok: false });
  });
});
