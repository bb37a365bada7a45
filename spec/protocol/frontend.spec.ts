// Frontend messages: each decoder against frames built independently (bytes.ts), each builder
// against the same bytes and through its decoder, malformed frames, and node-postgres's own
// serializer as a second opinion on both sides.

import { serialize } from 'pg-protocol';
import { FrontendCode } from '../../lib/protocol/codes';
import {
  bind,
  bindRenamed,
  bindWithStatement,
  cancelRequest,
  close,
  decodeBind,
  decodeClose,
  decodeDescribe,
  decodeExecute,
  decodeParse,
  decodePasswordMessage,
  decodeQuery,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  decodeStartup,
  describe as describeMessage,
  execute,
  FLUSH,
  GSSENC_REQUEST,
  parse,
  passwordMessage,
  query,
  saslInitialResponse,
  saslResponse,
  SSL_REQUEST,
  sslRequest,
  startupMessage,
  sync,
  SYNC,
  terminate,
  TERMINATE,
  type Bind,
} from '../../lib/protocol/frontend';
import { cstr, frame, frameDeclaring, i16, i32, str, u8, untyped } from './bytes';
import { decodePlaced, expectCutsInvalid, expectInvalid, withTrailing, type Decoder } from './harness';

/** A builder's output declares exactly its own length. */
function expectDeclaredLength(f: Buffer, isUntyped = false): void {
  if (isUntyped) expect(f.readInt32BE(0)).toBe(f.length);
  else expect(f.readInt32BE(1)).toBe(f.length - 1);
}

function decodeOk<T>(decode: Decoder<T>, f: Buffer): T {
  const result = decodePlaced(decode, f);
  expect(result).not.toMatchObject({ kind: 'invalid' });
  return result as T;
}

describe('StartupMessage and the other untyped packets', () => {
  const startupBytes = untyped(i32(196608), cstr('user'), cstr('alice'), cstr('database'), cstr('shop'), cstr('application_name'), cstr(''), u8(0));

  it('decodes parameters in order, empty values included', () => {
    const msg = decodeOk(decodeStartup, startupBytes);
    expect(msg).toEqual({
      kind: 'startup',
      major: 3,
      minor: 0,
      params: new Map([
        ['user', 'alice'],
        ['database', 'shop'],
        ['application_name', ''],
      ]),
    });
  });

  it('builds the same bytes from a Record or a Map, and decodes them back', () => {
    const params = { user: 'alice', database: 'shop', application_name: '' };
    expect(startupMessage(params)).toEqual(startupBytes);
    expect(startupMessage(new Map(Object.entries(params)))).toEqual(startupBytes);
    expectDeclaredLength(startupMessage(params), true);
    expect(decodeOk(decodeStartup, startupMessage(params))).toMatchObject({ kind: 'startup', params: new Map(Object.entries(params)) });
  });

  it('keeps the last value of a repeated key, as PostgreSQL does', () => {
    const f = untyped(i32(196608), cstr('user'), cstr('a'), cstr('user'), cstr('b'), u8(0));
    expect(decodeOk(decodeStartup, f)).toMatchObject({ params: new Map([['user', 'b']]) });
  });

  it('accepts an empty parameter list and reports a 3.x minor version for the caller to negotiate', () => {
    expect(decodeOk(decodeStartup, untyped(i32(196608), u8(0)))).toEqual({ kind: 'startup', major: 3, minor: 0, params: new Map() });
    expect(decodeOk(decodeStartup, untyped(i32((3 << 16) | 2), cstr('user'), cstr('u'), u8(0)))).toMatchObject({ major: 3, minor: 2 });
  });

  it('reports other protocol versions as unsupported-protocol, not as malformed', () => {
    expect(decodeOk(decodeStartup, untyped(i32(2 << 16), Buffer.alloc(288)))).toEqual({ kind: 'unsupported-protocol', major: 2, minor: 0 });
    expect(decodeOk(decodeStartup, untyped(i32((1234 << 16) | 5681)))).toEqual({ kind: 'unsupported-protocol', major: 1234, minor: 5681 });
  });

  it('rejects a missing final terminator, a key without value, and bytes after the terminator', () => {
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(196608), cstr('user'), cstr('alice'))), /not NUL-terminated/);
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(196608), cstr('user'))), /"user" has no NUL-terminated value/);
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(196608), cstr('user'), str('alice'))));
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(196608), cstr('user'), cstr('alice'), u8(0), u8(0))), /terminator as last byte/);
  });

  it('rejects every cut of a startup packet', () => {
    expectCutsInvalid(decodeStartup, startupBytes, { untyped: true });
  });

  it('rejects a declared length that differs from the packet', () => {
    const f = Buffer.from(startupBytes);
    f.writeInt32BE(f.length + 1, 0);
    expectInvalid(decodePlaced(decodeStartup, f), /declared length/);
  });

  it('decodes SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(decodeOk(decodeStartup, untyped(i32(80877103)))).toEqual({ kind: 'ssl' });
    expect(decodeOk(decodeStartup, untyped(i32(80877104)))).toEqual({ kind: 'gssenc' });
    expect(decodeOk(decodeStartup, untyped(i32(80877102), i32(4242), i32(-123456789)))).toEqual({ kind: 'cancel', pid: 4242, secret: -123456789 });
  });

  it('rejects fixed-size requests of the wrong size', () => {
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(80877103), i32(0))), /SSLRequest/);
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(80877104), i32(0))), /GSSENCRequest/);
    expectInvalid(decodePlaced(decodeStartup, untyped(i32(80877102), i32(1))), /CancelRequest/);
    expectCutsInvalid(decodeStartup, untyped(i32(80877102), i32(1), i32(2)), { untyped: true });
  });

  it('builds SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(SSL_REQUEST).toEqual(untyped(i32(80877103)));
    expect(sslRequest()).toBe(SSL_REQUEST);
    expect(GSSENC_REQUEST).toEqual(untyped(i32(80877104)));
    expect(decodeOk(decodeStartup, SSL_REQUEST)).toEqual({ kind: 'ssl' });
    expect(decodeOk(decodeStartup, GSSENC_REQUEST)).toEqual({ kind: 'gssenc' });
    const c = cancelRequest(4242, -5);
    expect(c).toEqual(untyped(i32(80877102), i32(4242), i32(-5)));
    expect(decodeOk(decodeStartup, c)).toEqual({ kind: 'cancel', pid: 4242, secret: -5 });
  });
});

describe('Query', () => {
  const f = frame('Q', cstr('SELECT 1; -- ✓'));

  it('decodes and builds', () => {
    expect(decodeOk(decodeQuery, f)).toEqual({ kind: 'query', sql: 'SELECT 1; -- ✓' });
    expect(query('SELECT 1; -- ✓')).toEqual(f);
    expectDeclaredLength(query('x'));
    expect(decodeOk(decodeQuery, query(''))).toEqual({ kind: 'query', sql: '' });
  });

  it('rejects cuts, trailing bytes, a wrong type byte and wrong declared lengths', () => {
    expectCutsInvalid(decodeQuery, f);
    expectInvalid(decodePlaced(decodeQuery, withTrailing(f, u8(0))), /after the query/);
    expectInvalid(decodePlaced(decodeQuery, frame('P', cstr('SELECT 1'))), /unexpected message type/);
    expectInvalid(decodePlaced(decodeQuery, frameDeclaring('Q', 100, cstr('SELECT 1'))), /declared length 100/);
    expectInvalid(decodePlaced(decodeQuery, frameDeclaring('Q', 3)), /declared length 3/);
  });
});

describe('Parse', () => {
  const f = frame('P', cstr('s1'), cstr('SELECT $1::int, $2'), i16(2), i32(23), i32(0xfffffffe));

  it('decodes names, text and parameter OIDs (unsigned)', () => {
    expect(decodeOk(decodeParse, f)).toEqual({ kind: 'parse', name: 's1', sql: 'SELECT $1::int, $2', paramTypes: [23, 0xfffffffe] });
  });

  it('builds the same bytes and decodes them back', () => {
    expect(parse('s1', 'SELECT $1::int, $2', [23, 0xfffffffe])).toEqual(f);
    const unnamed = parse('', 'SELECT 1');
    expectDeclaredLength(unnamed);
    expect(decodeOk(decodeParse, unnamed)).toEqual({ kind: 'parse', name: '', sql: 'SELECT 1', paramTypes: [] });
  });

  it('rejects cuts, a count that disagrees with the OIDs, and trailing bytes', () => {
    expectCutsInvalid(decodeParse, f);
    expectInvalid(decodePlaced(decodeParse, frame('P', cstr(''), cstr('x'), i16(2), i32(23))), /2 parameter types/);
    expectInvalid(decodePlaced(decodeParse, withTrailing(f, u8(0))));
  });
});

describe('Bind', () => {
  const params = Buffer.concat([i16(1), i16(1), i16(2), i32(4), i32(7), i32(-1), i16(1), i16(0)]);
  const f = frame('B', cstr('portal'), cstr('stmt'), params);

  it('decodes only the two names and where the parameter bytes start', () => {
    const b = decodeBind(f, 0, f.length) as Bind;
    expect(b).toEqual({ kind: 'bind', portal: 'portal', statement: 'stmt', statementStart: 5 + 7, paramsStart: 5 + 7 + 5 });
    expect(f.subarray(b.paramsStart)).toEqual(params);
    expect(decodeOk(decodeBind, f)).toMatchObject({ portal: 'portal', statement: 'stmt' });
  });

  it('builds every field: formats, NULL, binary and text values, result formats', () => {
    const built = bind({
      portal: 'portal',
      statement: 'stmt',
      paramFormats: [1],
      params: [i32(7), null],
      resultFormats: [0],
    });
    expect(built).toEqual(f);
    expectDeclaredLength(built);
    expect(bind({})).toEqual(frame('B', cstr(''), cstr(''), i16(0), i16(0), i16(0)));
    expect(bind({ params: ['héllo'] })).toEqual(frame('B', cstr(''), cstr(''), i16(0), i16(1), i32(6), str('héllo'), i16(0)));
  });

  it('renames the statement (and portal) keeping the original parameter bytes', () => {
    const b = decodeBind(f, 0, f.length) as Bind;
    const renamed = bindRenamed(f, f.length, b, 'pgmux_7');
    expect(renamed).toEqual(frame('B', cstr('portal'), cstr('pgmux_7'), params));
    expect(bindRenamed(f, f.length, b, 'x', '')).toEqual(frame('B', cstr(''), cstr('x'), params));
    const p = { buf: Buffer.concat([Buffer.from('junk'), f, Buffer.from('more')]), start: 4, end: 4 + f.length };
    const placedBind = decodeBind(p.buf, p.start, p.end) as Bind;
    expect(bindRenamed(p.buf, p.end, placedBind, 'pgmux_7')).toEqual(renamed);
  });

  it('splices in a statement name as bytes, copying the portal and parameters as they are', () => {
    const b = decodeBind(f, 0, f.length) as Bind;
    const expected = frame('B', cstr('portal'), cstr('pgmux_7'), params);
    expect(bindWithStatement(f, 0, f.length, b, cstr('pgmux_7'))).toEqual(expected);
    // A frame inside a bigger chunk, a shorter name, and the unnamed portal.
    const p = { buf: Buffer.concat([Buffer.from('junk'), f, Buffer.from('more')]), start: 4, end: 4 + f.length };
    const placed = decodeBind(p.buf, p.start, p.end) as Bind;
    expect(bindWithStatement(p.buf, p.start, p.end, placed, cstr('pgmux_7'))).toEqual(expected);
    const unnamedPortal = frame('B', cstr(''), cstr('a_long_client_name'), params);
    const u = decodeBind(unnamedPortal, 0, unnamedPortal.length) as Bind;
    expect(bindWithStatement(unnamedPortal, 0, unnamedPortal.length, u, cstr('s'))).toEqual(frame('B', cstr(''), cstr('s'), params));
  });

  it('rejects cuts inside the names; leaves the parameter bytes to the server', () => {
    expectCutsInvalid(decodeBind, f, { relengthUpTo: 5 + 7 + 5 });
  });
});

describe('Describe and Close', () => {
  it('decode and build both targets', () => {
    const ds = frame('D', u8(0x53), cstr('s1'));
    const cp = frame('C', u8(0x50), cstr(''));
    expect(decodeOk(decodeDescribe, ds)).toEqual({ kind: 'describe', target: 'S', name: 's1' });
    expect(decodeOk(decodeClose, cp)).toEqual({ kind: 'close', target: 'P', name: '' });
    expect(describeMessage('S', 's1')).toEqual(ds);
    expect(close('P', '')).toEqual(cp);
    expect(decodeOk(decodeDescribe, describeMessage('P', 'p'))).toEqual({ kind: 'describe', target: 'P', name: 'p' });
    expect(decodeOk(decodeClose, close('S', 's'))).toEqual({ kind: 'close', target: 'S', name: 's' });
  });

  it('reject an unknown target, cuts, trailing bytes, and each other', () => {
    expectInvalid(decodePlaced(decodeDescribe, frame('D', str('X'), cstr('s1'))), /invalid target type 0x58/);
    expectInvalid(decodePlaced(decodeClose, frame('C')), /missing target/);
    expectCutsInvalid(decodeDescribe, frame('D', u8(0x53), cstr('s1')));
    expectCutsInvalid(decodeClose, frame('C', u8(0x53), cstr('s1')));
    expectInvalid(decodePlaced(decodeClose, withTrailing(frame('C', u8(0x53), cstr('s1')), u8(0))));
    expectInvalid(decodePlaced(decodeClose, frame('D', u8(0x53), cstr('s1'))), /unexpected message type/);
  });
});

describe('Execute', () => {
  it('decodes and builds, keeping the row limit signed', () => {
    const f = frame('E', cstr('p1'), i32(100));
    expect(decodeOk(decodeExecute, f)).toEqual({ kind: 'execute', portal: 'p1', maxRows: 100 });
    expect(execute('p1', 100)).toEqual(f);
    expect(execute()).toEqual(frame('E', cstr(''), i32(0)));
    expect(decodeOk(decodeExecute, frame('E', cstr(''), i32(-1)))).toMatchObject({ maxRows: -1 });
  });

  it('rejects cuts and trailing bytes', () => {
    const f = frame('E', cstr('p1'), i32(100));
    expectCutsInvalid(decodeExecute, f);
    expectInvalid(decodePlaced(decodeExecute, withTrailing(f, u8(1))));
  });
});

describe("the 'p' family", () => {
  it('PasswordMessage decodes, builds, and must be exactly one string', () => {
    const f = frame('p', cstr('md5abcdef'));
    expect(decodeOk(decodePasswordMessage, f)).toEqual({ kind: 'password', password: 'md5abcdef' });
    expect(passwordMessage('md5abcdef')).toEqual(f);
    expectCutsInvalid(decodePasswordMessage, f);
    expectInvalid(decodePlaced(decodePasswordMessage, withTrailing(f, cstr('x'))), /invalid password packet size/);
  });

  it('SASLInitialResponse decodes, builds, and handles length -1', () => {
    const data = Buffer.from('n,,n=,r=abc');
    const f = frame('p', cstr('SCRAM-SHA-256'), i32(data.length), data);
    expect(decodeOk(decodeSASLInitialResponse, f)).toEqual({ kind: 'sasl-initial', mechanism: 'SCRAM-SHA-256', data });
    expect(saslInitialResponse('SCRAM-SHA-256', data)).toEqual(f);
    const none = frame('p', cstr('SCRAM-SHA-256'), i32(-1));
    expect(saslInitialResponse('SCRAM-SHA-256', null)).toEqual(none);
    expect(decodeOk(decodeSASLInitialResponse, none)).toEqual({ kind: 'sasl-initial', mechanism: 'SCRAM-SHA-256', data: null });
  });

  it('SASLInitialResponse rejects cuts and a length that disagrees with the data', () => {
    const data = Buffer.from('n,,n=,r=abc');
    const f = frame('p', cstr('SCRAM-SHA-256'), i32(data.length), data);
    expectCutsInvalid(decodeSASLInitialResponse, f);
    expectInvalid(decodePlaced(decodeSASLInitialResponse, withTrailing(f, u8(0))), /declared response length/);
    expectInvalid(decodePlaced(decodeSASLInitialResponse, frame('p', cstr('SCRAM-SHA-256'), i32(-1), u8(1))));
  });

  it('SASLResponse takes the whole body as data (a view, not a copy)', () => {
    const f = frame('p', str('c=biws,r=abc,p=xyz'));
    const msg = decodeOk(decodeSASLResponse, f);
    expect(msg).toEqual({ kind: 'sasl-response', data: Buffer.from('c=biws,r=abc,p=xyz') });
    expect(saslResponse(Buffer.from('c=biws,r=abc,p=xyz'))).toEqual(f);
    const view = decodeSASLResponse(f, 0, f.length);
    expect(view).toMatchObject({ kind: 'sasl-response' });
    if (view.kind === 'sasl-response') expect(view.data.buffer).toBe(f.buffer);
    expectCutsInvalid(decodeSASLResponse, f, { relengthUpTo: 5 });
  });
});

describe('messages without a body', () => {
  it('are the 5-byte frames PostgreSQL expects', () => {
    expect(SYNC).toEqual(frame('S'));
    expect(FLUSH).toEqual(frame('H'));
    expect(TERMINATE).toEqual(frame('X'));
    expect(sync()).toBe(SYNC);
    expect(terminate()).toBe(TERMINATE);
    expect(SYNC[0]).toBe(FrontendCode.Sync);
  });
});

describe('agreement with node-postgres (pg-protocol serializer)', () => {
  it('builds byte-identical frames for the same input', () => {
    expect(query('SELECT 1')).toEqual(serialize.query('SELECT 1'));
    expect(parse('s1', 'SELECT $1', [23])).toEqual(serialize.parse({ name: 's1', text: 'SELECT $1', types: [23] }));
    expect(describeMessage('S', 's1')).toEqual(serialize.describe({ type: 'S', name: 's1' }));
    expect(describeMessage('P', '')).toEqual(serialize.describe({ type: 'P' }));
    expect(close('P', 'p1')).toEqual(serialize.close({ type: 'P', name: 'p1' }));
    expect(execute('p1', 10)).toEqual(serialize.execute({ portal: 'p1', rows: 10 }));
    expect(execute()).toEqual(serialize.execute());
    expect(passwordMessage('secret')).toEqual(serialize.password('secret'));
    expect(saslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=x'))).toEqual(
      serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x'),
    );
    expect(saslResponse(Buffer.from('c=biws'))).toEqual(serialize.sendSCRAMClientFinalMessage('c=biws'));
    expect(cancelRequest(77, 88)).toEqual(serialize.cancel(77, 88));
    expect(SSL_REQUEST).toEqual(serialize.requestSsl());
    expect(SYNC).toEqual(serialize.sync());
    expect(FLUSH).toEqual(serialize.flush());
    expect(TERMINATE).toEqual(serialize.end());
    expect(bind({ portal: 'p', statement: 's', paramFormats: [0, 1], params: ['1', Buffer.from([1, 2])], resultFormats: [0] })).toEqual(
      serialize.bind({ portal: 'p', statement: 's', values: ['1', Buffer.from([1, 2])] }),
    );
  });

  it("decodes node-postgres's frames", () => {
    const startup = serialize.startup({ user: 'alice', database: 'shop' });
    expect(decodeOk(decodeStartup, startup)).toEqual({
      kind: 'startup',
      major: 3,
      minor: 0,
      params: new Map([
        ['user', 'alice'],
        ['database', 'shop'],
        ['client_encoding', 'UTF8'],
      ]),
    });
    const b = serialize.bind({ portal: 'p', statement: 's', values: [null, 'x'] });
    expect(decodeOk(decodeBind, b)).toMatchObject({ kind: 'bind', portal: 'p', statement: 's' });
    expect(decodeOk(decodeParse, serialize.parse({ text: 'SELECT 1' }))).toEqual({ kind: 'parse', name: '', sql: 'SELECT 1', paramTypes: [] });
    expect(decodeOk(decodeDescribe, serialize.describe({ type: 'P' }))).toEqual({ kind: 'describe', target: 'P', name: '' });
    expect(decodeOk(decodeClose, serialize.close({ type: 'S', name: 'x' }))).toEqual({ kind: 'close', target: 'S', name: 'x' });
    expect(decodeOk(decodeExecute, serialize.execute({ portal: 'q', rows: 5 }))).toEqual({ kind: 'execute', portal: 'q', maxRows: 5 });
    expect(decodeOk(decodeStartup, serialize.cancel(1, 2))).toEqual({ kind: 'cancel', pid: 1, secret: 2 });
    expect(decodeOk(decodeSASLInitialResponse, serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'abc'))).toEqual({
      kind: 'sasl-initial',
      mechanism: 'SCRAM-SHA-256',
      data: Buffer.from('abc'),
    });
  });
});
