// The frontend builders and backend decoders against a real PostgreSQL 15: pgmux's frames must
// log in, run the extended protocol and cancel, and the server's frames must decode.

import { createHash } from 'node:crypto';
import { TxStatus } from '../../lib/protocol/codes';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeNegotiateProtocolVersion,
  type DecodedErrorFields,
  decodeParameterStatus,
  negotiateProtocolVersion,
  readyForQueryStatus,
} from '../../lib/protocol/backend';
import {
  bind,
  cancelRequest,
  close,
  describe as describeMessage,
  execute,
  parse,
  passwordMessage,
  query,
  startupMessage,
  SYNC,
  TERMINATE,
} from '../../lib/protocol/frontend';
import { startCluster, type Cluster } from '../support/cluster';
import { cstr, i32, u8, untyped } from './bytes';
import { RawClient } from '../support/wire';

function md5hex(s: string | Buffer): string {
  return createHash('md5').update(s).digest('hex');
}

/** Reads frames up to and including ReadyForQuery; returns them (whole, header included) in order. */
async function untilReady(w: RawClient): Promise<Buffer[]> {
  return (await w.until('Z')).map((f) => f.bytes);
}

const letters = (frames: Buffer[]): string => frames.map((f) => String.fromCharCode(f[0])).join('');

/** The text of column 0 of a DataRow frame. */
function firstValue(f: Buffer): Buffer {
  const len = f.readInt32BE(7);
  return f.subarray(11, 11 + len);
}

/** The ErrorResponse the server closes with, decoded by lib/protocol. */
async function refusal(w: RawClient): Promise<DecodedErrorFields> {
  const { frame } = await w.refusal();
  const e = decodeErrorFields(frame.bytes, 0, frame.bytes.length);
  if (e.kind === 'invalid') throw new Error(e.reason);
  return e;
}

/** The first frame of `type` (whole, header included); fails if an ErrorResponse comes first. */
const expectFrame = async (w: RawClient, type: string): Promise<Buffer> => (await w.waitFor(type)).bytes;

describe('against PostgreSQL 15', () => {
  let cluster: Cluster;
  let port: number;

  beforeAll(async () => {
    cluster = await startCluster();
    port = cluster.primary.port;
  });
  afterAll(() => cluster?.stop());

  /** Cleartext login (app_plain has hba `password`); returns the session and its BackendKeyData. */
  async function login(): Promise<{ w: RawClient; pid: number; secret: number }> {
    const w = await RawClient.open(port);
    w.send(startupMessage({ user: 'app_plain', database: 'app' }));
    const req = await expectFrame(w, 'R');
    expect(decodeAuthentication(req, 0, req.length)).toEqual({ kind: 'auth-cleartext' });
    w.send(passwordMessage(cluster.password));
    const frames = await untilReady(w);
    const key = frames.find((f) => f[0] === 0x4b) as Buffer;
    const k = decodeBackendKeyData(key, 0, key.length);
    if (k.kind === 'invalid') throw new Error(k.reason);
    return { w, pid: k.pid, secret: k.secret };
  }

  it('logs in with cleartext and decodes the welcome', async () => {
    const w = await RawClient.open(port);
    w.send(startupMessage(new Map([['user', 'app_plain'], ['database', 'app'], ['application_name', 'pgmux-spec']])));
    await expectFrame(w, 'R');
    w.send(passwordMessage(cluster.password));
    const frames = await untilReady(w);
    expect(decodeAuthentication(frames[0], 0, frames[0].length)).toEqual({ kind: 'auth-ok' });
    const params = new Map<string, string>();
    for (const f of frames.filter((x) => x[0] === 0x53)) {
      const p = decodeParameterStatus(f, 0, f.length);
      if (p.kind === 'invalid') throw new Error(p.reason);
      params.set(p.name, p.value);
    }
    expect(params.get('application_name')).toBe('pgmux-spec');
    expect(params.get('server_version')).toMatch(/^15\./);
    expect(params.get('client_encoding')).toBe('UTF8');
    const key = frames.find((f) => f[0] === 0x4b) as Buffer;
    expect(decodeBackendKeyData(key, 0, key.length)).toMatchObject({ kind: 'backend-key' });
    const z = frames[frames.length - 1];
    expect(readyForQueryStatus(z, 0)).toBe(TxStatus.Idle);
    w.send(TERMINATE);
    await w.waitClosed();
  });

  it('logs in with md5 using the decoded salt', async () => {
    const w = await RawClient.open(port);
    w.send(startupMessage({ user: 'app_md5', database: 'app' }));
    const req = await expectFrame(w, 'R');
    const auth = decodeAuthentication(req, 0, req.length);
    if (auth.kind !== 'auth-md5') throw new Error(`expected an md5 request, got ${auth.kind}`);
    const inner = md5hex(cluster.password + 'app_md5');
    w.send(passwordMessage('md5' + md5hex(Buffer.concat([Buffer.from(inner), auth.salt]))));
    const frames = await untilReady(w);
    expect(decodeAuthentication(frames[0], 0, frames[0].length)).toEqual({ kind: 'auth-ok' });
    w.destroy();
  });

  it('decodes the SCRAM offer and a wrong-password FATAL (with its V field)', async () => {
    const w = await RawClient.open(port);
    w.send(startupMessage({ user: 'app', database: 'app' }));
    const req = await expectFrame(w, 'R');
    const auth = decodeAuthentication(req, 0, req.length);
    expect(auth).toMatchObject({ kind: 'auth-sasl' });
    if (auth.kind === 'auth-sasl') expect(auth.mechanisms).toContain('SCRAM-SHA-256');
    w.destroy();

    const p = await RawClient.open(port);
    p.send(startupMessage({ user: 'app_plain', database: 'app' }));
    await expectFrame(p, 'R');
    p.send(passwordMessage('wrong'));
    const e = await refusal(p);
    expect(e).toMatchObject({ kind: 'error', severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app_plain"' });
    expect(e.raw.get('V')).toBe('FATAL');
    expect(e.routine).toBeDefined();
  });

  it('gets NegotiateProtocolVersion for 3.1 with a _pq_ option, and decodes it', async () => {
    const w = await RawClient.open(port);
    w.send(untyped(i32((3 << 16) | 1), cstr('user'), cstr('app_plain'), cstr('database'), cstr('app'), cstr('_pq_.pgmux_test'), cstr('1'), u8(0)));
    const v = await expectFrame(w, 'v');
    expect(decodeNegotiateProtocolVersion(v, 0, v.length)).toEqual({
      kind: 'negotiate-protocol-version',
      newestMinor: 0,
      unrecognized: ['_pq_.pgmux_test'],
    });
    // pgmux's own NegotiateProtocolVersion is byte for byte what PostgreSQL sends.
    expect(negotiateProtocolVersion(0, ['_pq_.pgmux_test'])).toEqual(v);
    w.destroy();
  });

  it('runs the extended protocol built by pgmux: text and binary, named and unnamed', async () => {
    const { w } = await login();
    w.send(
      Buffer.concat([
        parse('s1', 'SELECT $1::int4 + 1 AS n', [23]),
        bind({ portal: '', statement: 's1', params: ['41'] }),
        describeMessage('P', ''),
        execute('', 0),
        bind({ portal: 'p2', statement: 's1', paramFormats: [1], params: [i32(99)], resultFormats: [1] }),
        execute('p2', 0),
        close('S', 's1'),
        SYNC,
      ]),
    );
    const frames = await untilReady(w);
    expect(letters(frames)).toBe('12TDC2DC3Z');
    expect(firstValue(frames[3]).toString()).toBe('42');
    expect(firstValue(frames[6]).readInt32BE(0)).toBe(100);

    // The statement is gone after Close: binding it now fails, and the transaction state shows it.
    w.send(Buffer.concat([query('BEGIN'), bind({ statement: 's1' }), execute(), SYNC]));
    const begin = await untilReady(w);
    expect(readyForQueryStatus(begin[begin.length - 1], 0)).toBe(TxStatus.InTransaction);
    const failed = await untilReady(w);
    const err = failed.find((f) => f[0] === 0x45) as Buffer;
    expect(decodeErrorFields(err, 0, err.length)).toMatchObject({ severity: 'ERROR', code: '26000' });
    expect(readyForQueryStatus(failed[failed.length - 1], 0)).toBe(TxStatus.Failed);
    w.send(TERMINATE);
    await w.waitClosed();
  });

  it('decodes an ERROR with a position from a simple query, and stays usable', async () => {
    const { w } = await login();
    w.send(query('SELECT * FROM no_such_table'));
    const frames = await untilReady(w);
    const e = decodeErrorFields(frames[0], 0, frames[0].length);
    expect(e).toMatchObject({ kind: 'error', severity: 'ERROR', code: '42P01', position: '15' });
    expect(readyForQueryStatus(frames[1], 0)).toBe(TxStatus.Idle);
    w.send(query('SELECT 7'));
    const ok = await untilReady(w);
    expect(letters(ok)).toBe('TDCZ');
    expect(firstValue(ok[1]).toString()).toBe('7');
    w.destroy();
  });

  it('cancels a running query with cancelRequest built from the decoded BackendKeyData', async () => {
    const { w, pid, secret } = await login();
    w.send(query('SELECT pg_sleep(60)'));
    // Wait until the backend is really running the query before cancelling.
    for (;;) {
      const r = await cluster.query(cluster.primary, `SELECT state FROM pg_stat_activity WHERE pid = ${pid}`);
      if (r.rows[0]?.state === 'active') break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const c = await RawClient.open(port);
    c.send(cancelRequest(pid, secret));
    await c.waitClosed();
    const frames = await untilReady(w);
    // RowDescription comes first: PostgreSQL sends it before the statement runs.
    expect(letters(frames)).toBe('TEZ');
    const e = decodeErrorFields(frames[1], 0, frames[1].length);
    expect(e).toMatchObject({ severity: 'ERROR', code: '57014', message: 'canceling statement due to user request' });
    w.destroy();
  });
});
