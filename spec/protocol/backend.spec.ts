// Backend messages: builders against independently built bytes and node-postgres's parser (the
// way real clients will read them), and the decoders pgmux uses on server frames.

import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import { TxStatus } from '../../lib/protocol/codes';
import {
  AUTHENTICATION_CLEARTEXT,
  AUTHENTICATION_OK,
  authenticationCleartext,
  authenticationMD5,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  BIND_COMPLETE,
  backendKeyData,
  bindComplete,
  welcomeFrames,
  CLOSE_COMPLETE,
  closeComplete,
  commandComplete,
  dataRow,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  EMPTY_QUERY_RESPONSE,
  emptyQueryResponse,
  errorResponse,
  negotiateProtocolVersion,
  NO_DATA,
  noticeResponse,
  PARSE_COMPLETE,
  parameterStatus,
  parseComplete,
  READY_FAILED,
  READY_IDLE,
  READY_IN_TX,
  readyForQuery,
  readyForQueryStatus,
  rowDescription,
  type ErrorFields,
} from '../../lib/protocol/backend';
import { cstr, frame, i16, i32, str, u8 } from './bytes';
import { decodePlaced, expectCutsInvalid, expectInvalid, withTrailing, type Decoder } from './harness';

/** Every message node-postgres reads from `bytes`; each frame must come out as one message. */
function pgRead(bytes: Buffer): BackendMessage[] {
  const out: BackendMessage[] = [];
  new Parser().parse(bytes, (msg) => out.push(msg));
  return out;
}

function pgReadOne(bytes: Buffer): BackendMessage & Record<string, unknown> {
  const msgs = pgRead(bytes);
  expect(msgs).toHaveLength(1);
  expect(msgs[0].length).toBe(bytes.length - 1);
  return msgs[0] as BackendMessage & Record<string, unknown>;
}

function decodeOk<T>(decode: Decoder<T>, f: Buffer): T {
  const result = decodePlaced(decode, f);
  expect(result).not.toMatchObject({ kind: 'invalid' });
  return result as T;
}

const fullError: ErrorFields = {
  severity: 'ERROR',
  code: '23505',
  message: 'duplicate key value violates unique constraint "t_pkey"',
  detail: 'Key (id)=(1) already exists.',
  hint: 'use another id',
  position: '15',
  internalPosition: '3',
  internalQuery: 'SELECT 1',
  where: 'PL/pgSQL function f() line 3',
  schema: 'public',
  table: 't',
  column: 'id',
  dataType: 'int4',
  constraint: 't_pkey',
  file: 'nbtinsert.c',
  line: '666',
  routine: '_bt_check_unique',
};

describe('ErrorResponse and NoticeResponse', () => {
  it('writes S and V, then C and M, like PostgreSQL', () => {
    const f = errorResponse({ severity: 'FATAL', code: '53300', message: 'no more connections allowed (max_client_conn)' });
    expect(f).toEqual(
      frame('E', str('S'), cstr('FATAL'), str('V'), cstr('FATAL'), str('C'), cstr('53300'), str('M'), cstr('no more connections allowed (max_client_conn)'), u8(0)),
    );
  });

  it('round-trips every field through decodeErrorFields', () => {
    const decoded = decodeOk(decodeErrorFields, errorResponse(fullError));
    const { kind, raw, ...fields } = decoded;
    expect(kind).toBe('error');
    expect(fields).toEqual(fullError);
    expect(raw.get('V')).toBe('ERROR');
    expect(raw.size).toBe(18);
    const notice = decodeOk(decodeErrorFields, noticeResponse({ severity: 'NOTICE', code: '00000', message: 'hi' }));
    expect(notice).toMatchObject({ kind: 'notice', severity: 'NOTICE', code: '00000', message: 'hi' });
  });

  it('is read by node-postgres with every field in place', () => {
    const e = pgReadOne(errorResponse(fullError));
    expect(e.name).toBe('error');
    expect(e).toMatchObject({
      severity: 'ERROR',
      code: '23505',
      message: fullError.message,
      detail: fullError.detail,
      hint: fullError.hint,
      position: '15',
      internalPosition: '3',
      internalQuery: 'SELECT 1',
      where: fullError.where,
      schema: 'public',
      table: 't',
      column: 'id',
      dataType: 'int4',
      constraint: 't_pkey',
      file: 'nbtinsert.c',
      line: '666',
      routine: '_bt_check_unique',
    });
    const n = pgReadOne(noticeResponse({ severity: 'WARNING', code: '01000', message: 'careful' }));
    expect(n).toMatchObject({ name: 'notice', severity: 'WARNING', code: '01000', message: 'careful' });
  });

  it('takes severity from V, else from an unlocalized S, else ERROR (raw keeps the original)', () => {
    const noV = frame('E', str('S'), cstr('FATAL'), str('C'), cstr('28P01'), str('M'), cstr('bad'), u8(0));
    expect(decodeOk(decodeErrorFields, noV)).toMatchObject({ severity: 'FATAL', code: '28P01', message: 'bad' });
    const localized = frame('E', str('S'), cstr('FEHLER'), str('C'), cstr('42P01'), str('M'), cstr('x'), u8(0));
    const d = decodeOk(decodeErrorFields, localized);
    expect(d.severity).toBe('ERROR');
    expect(d.raw.get('S')).toBe('FEHLER');
    const withV = frame('E', str('S'), cstr('FEHLER'), str('V'), cstr('FATAL'), str('C'), cstr('42P01'), str('M'), cstr('x'), u8(0));
    expect(decodeOk(decodeErrorFields, withV).severity).toBe('FATAL');
  });

  it('keeps unknown field codes in raw only', () => {
    const f = frame('E', str('S'), cstr('ERROR'), str('C'), cstr('XX000'), str('M'), cstr('m'), str('Z'), cstr('future'), u8(0));
    const d = decodeOk(decodeErrorFields, f);
    expect(d.raw.get('Z')).toBe('future');
    expect(Object.keys(d).sort()).toEqual(['code', 'kind', 'message', 'raw', 'severity']);
  });

  it('rejects missing S, C or M, a missing terminator, cuts, trailing bytes and other types', () => {
    expectInvalid(decodePlaced(decodeErrorFields, frame('E', str('S'), cstr('ERROR'), str('M'), cstr('m'), u8(0))), /missing severity, code or message/);
    expectInvalid(decodePlaced(decodeErrorFields, frame('E', str('S'), cstr('ERROR'), str('C'), cstr('XX000'), str('M'), cstr('m'))), /terminator/);
    expectInvalid(decodePlaced(decodeErrorFields, frame('N', str('S'), cstr('ERROR'), str('C'), str('XX000'))), /not NUL-terminated/);
    const f = errorResponse({ severity: 'ERROR', code: 'XX000', message: 'm', detail: 'd' });
    expectCutsInvalid(decodeErrorFields, f);
    expectInvalid(decodePlaced(decodeErrorFields, withTrailing(f, u8(0))), /after the terminator/);
    expectInvalid(decodePlaced(decodeErrorFields, frame('Z', u8(0x49))), /unexpected message type/);
  });

  it('cuts a NUL inside a field instead of corrupting the frame', () => {
    const d = decodeOk(decodeErrorFields, errorResponse({ severity: 'ERROR', code: 'XX000', message: 'a\u0000b' }));
    expect(d.message).toBe('a');
  });
});

describe('Authentication', () => {
  it('builds each request as PostgreSQL does, readable by node-postgres, and decodes it back', () => {
    expect(AUTHENTICATION_OK).toEqual(frame('R', i32(0)));
    expect(authenticationOk()).toBe(AUTHENTICATION_OK);
    expect(pgReadOne(AUTHENTICATION_OK).name).toBe('authenticationOk');
    expect(decodeOk(decodeAuthentication, AUTHENTICATION_OK)).toEqual({ kind: 'auth-ok' });

    expect(AUTHENTICATION_CLEARTEXT).toEqual(frame('R', i32(3)));
    expect(authenticationCleartext()).toBe(AUTHENTICATION_CLEARTEXT);
    expect(pgReadOne(AUTHENTICATION_CLEARTEXT).name).toBe('authenticationCleartextPassword');
    expect(decodeOk(decodeAuthentication, AUTHENTICATION_CLEARTEXT)).toEqual({ kind: 'auth-cleartext' });

    const salt = Buffer.from([1, 2, 3, 250]);
    const md5 = authenticationMD5(salt);
    expect(md5).toEqual(frame('R', i32(5), salt));
    expect(pgReadOne(md5)).toMatchObject({ name: 'authenticationMD5Password', salt });
    expect(decodeOk(decodeAuthentication, md5)).toEqual({ kind: 'auth-md5', salt });

    const sasl = authenticationSASL(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    expect(sasl).toEqual(frame('R', i32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), u8(0)));
    expect(pgReadOne(sasl)).toMatchObject({ name: 'authenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
    expect(decodeOk(decodeAuthentication, sasl)).toEqual({ kind: 'auth-sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });

    const cont = authenticationSASLContinue('r=abc,s=c2FsdA==,i=4096');
    expect(cont).toEqual(frame('R', i32(11), str('r=abc,s=c2FsdA==,i=4096')));
    expect(pgReadOne(cont)).toMatchObject({ name: 'authenticationSASLContinue', data: 'r=abc,s=c2FsdA==,i=4096' });
    expect(decodeOk(decodeAuthentication, cont)).toEqual({ kind: 'auth-sasl-continue', data: Buffer.from('r=abc,s=c2FsdA==,i=4096') });

    const fin = authenticationSASLFinal(Buffer.from('v=c2lnbmF0dXJl'));
    expect(fin).toEqual(frame('R', i32(12), str('v=c2lnbmF0dXJl')));
    expect(pgReadOne(fin)).toMatchObject({ name: 'authenticationSASLFinal', data: 'v=c2lnbmF0dXJl' });
    expect(decodeOk(decodeAuthentication, fin)).toEqual({ kind: 'auth-sasl-final', data: Buffer.from('v=c2lnbmF0dXJl') });
  });

  it('reports requests pgmux cannot answer with their code', () => {
    expect(decodeOk(decodeAuthentication, frame('R', i32(7)))).toEqual({ kind: 'auth-unsupported', code: 7 });
    expect(decodeOk(decodeAuthentication, frame('R', i32(9)))).toEqual({ kind: 'auth-unsupported', code: 9 });
  });

  it('rejects wrong sizes, an unterminated mechanism list and cuts', () => {
    expectInvalid(decodePlaced(decodeAuthentication, frame('R', i32(5), Buffer.from([1, 2, 3]))), /salt must be 4 bytes/);
    expectInvalid(decodePlaced(decodeAuthentication, frame('R', i32(0), u8(0))));
    expectInvalid(decodePlaced(decodeAuthentication, frame('R', i32(3), u8(0))));
    expectInvalid(decodePlaced(decodeAuthentication, frame('R', i32(10), cstr('SCRAM-SHA-256'))), /not NUL-terminated/);
    expectInvalid(decodePlaced(decodeAuthentication, frame('R', i32(10), cstr('SCRAM-SHA-256'), u8(0), u8(0))), /after the mechanism list/);
    for (const f of [AUTHENTICATION_OK, AUTHENTICATION_CLEARTEXT, authenticationMD5(Buffer.alloc(4)), authenticationSASL(['SCRAM-SHA-256'])]) {
      expectCutsInvalid(decodeAuthentication, f);
    }
    expectCutsInvalid(decodeAuthentication, authenticationSASLContinue('r=1'), { relengthUpTo: 9 });
  });
});

describe('ParameterStatus, BackendKeyData, ReadyForQuery, NegotiateProtocolVersion', () => {
  it('ParameterStatus builds, is read by node-postgres, decodes back, rejects malformed', () => {
    const f = parameterStatus('TimeZone', 'Europe/Paris');
    expect(f).toEqual(frame('S', cstr('TimeZone'), cstr('Europe/Paris')));
    expect(pgReadOne(f)).toMatchObject({ name: 'parameterStatus', parameterName: 'TimeZone', parameterValue: 'Europe/Paris' });
    expect(decodeOk(decodeParameterStatus, f)).toEqual({ kind: 'parameter-status', name: 'TimeZone', value: 'Europe/Paris' });
    expectCutsInvalid(decodeParameterStatus, f);
    expectInvalid(decodePlaced(decodeParameterStatus, withTrailing(f, cstr('x'))));
  });

  it('BackendKeyData builds, is read by node-postgres, decodes back, rejects malformed', () => {
    const f = backendKeyData(31337, -2);
    expect(f).toEqual(frame('K', i32(31337), i32(-2)));
    expect(pgReadOne(f)).toMatchObject({ name: 'backendKeyData', processID: 31337, secretKey: -2 });
    expect(decodeOk(decodeBackendKeyData, f)).toEqual({ kind: 'backend-key', pid: 31337, secret: -2 });
    expectCutsInvalid(decodeBackendKeyData, f);
    expectInvalid(decodePlaced(decodeBackendKeyData, withTrailing(f, u8(0))));
  });

  it('welcomeFrames is the concatenation of its parts, with or without what goes before, and node-postgres reads it message by message', () => {
    const status = Buffer.concat([parameterStatus('client_encoding', 'UTF8'), parameterStatus('TimeZone', 'UTC')]);
    const sasl = authenticationSASLFinal(Buffer.from('v=abc'));
    for (const before of [null, AUTHENTICATION_OK, Buffer.concat([sasl, AUTHENTICATION_OK])]) {
      const f = welcomeFrames(before, status, 31337, -2);
      expect(f).toEqual(Buffer.concat([...(before === null ? [] : [before]), status, backendKeyData(31337, -2), READY_IDLE]));
      expect(pgRead(f).map((m) => m.name)).toEqual([
        ...(before === null ? [] : before.length > AUTHENTICATION_OK.length ? ['authenticationSASLFinal', 'authenticationOk'] : ['authenticationOk']),
        'parameterStatus',
        'parameterStatus',
        'backendKeyData',
        'readyForQuery',
      ]);
    }
  });

  it('ReadyForQuery constants match each status and node-postgres reads them', () => {
    expect(READY_IDLE).toEqual(frame('Z', str('I')));
    expect(READY_IN_TX).toEqual(frame('Z', str('T')));
    expect(READY_FAILED).toEqual(frame('Z', str('E')));
    expect(readyForQuery(TxStatus.Idle)).toBe(READY_IDLE);
    expect(readyForQuery(TxStatus.InTransaction)).toBe(READY_IN_TX);
    expect(readyForQuery(TxStatus.Failed)).toBe(READY_FAILED);
    expect(pgReadOne(READY_IN_TX)).toMatchObject({ name: 'readyForQuery', status: 'T' });
  });

  it('readyForQueryStatus reads the byte in place and refuses other bytes', () => {
    const chunk = Buffer.concat([Buffer.from('xx'), READY_FAILED, READY_IDLE]);
    expect(readyForQueryStatus(chunk, 2)).toBe(TxStatus.Failed);
    expect(readyForQueryStatus(chunk, 8)).toBe(TxStatus.Idle);
    expect(readyForQueryStatus(frame('Z', str('X')), 0)).toBeUndefined();
  });

  it('NegotiateProtocolVersion builds and decodes back', () => {
    const f = negotiateProtocolVersion(0, ['_pq_.compression', '_pq_.other']);
    // The version field carries the whole code (3.0 = 196608), as PostgreSQL writes it.
    expect(f).toEqual(frame('v', i32(196608), i32(2), cstr('_pq_.compression'), cstr('_pq_.other')));
    expect(decodeOk(decodeNegotiateProtocolVersion, frame('v', i32(0), i32(0)))).toMatchObject({ newestMinor: 0 });
    expect(decodeOk(decodeNegotiateProtocolVersion, f)).toEqual({
      kind: 'negotiate-protocol-version',
      newestMinor: 0,
      unrecognized: ['_pq_.compression', '_pq_.other'],
    });
    expect(decodeOk(decodeNegotiateProtocolVersion, negotiateProtocolVersion(0, []))).toMatchObject({ unrecognized: [] });
    expectCutsInvalid(decodeNegotiateProtocolVersion, f);
    expectInvalid(decodePlaced(decodeNegotiateProtocolVersion, withTrailing(f, u8(0))));
  });
});

describe('result messages', () => {
  it('constant acknowledgements are the bare frames node-postgres expects', () => {
    const table: [Buffer, () => Buffer, string, string][] = [
      [PARSE_COMPLETE, parseComplete, '1', 'parseComplete'],
      [BIND_COMPLETE, bindComplete, '2', 'bindComplete'],
      [CLOSE_COMPLETE, closeComplete, '3', 'closeComplete'],
      [EMPTY_QUERY_RESPONSE, emptyQueryResponse, 'I', 'emptyQuery'],
    ];
    for (const [constant, fn, letter, name] of table) {
      expect(constant).toEqual(frame(letter));
      expect(fn()).toBe(constant);
      expect(pgReadOne(constant).name).toBe(name);
    }
    expect(NO_DATA).toEqual(frame('n'));
    expect(pgReadOne(NO_DATA).name).toBe('noData');
  });

  it('CommandComplete carries its tag', () => {
    const f = commandComplete('SELECT 3');
    expect(f).toEqual(frame('C', cstr('SELECT 3')));
    expect(pgReadOne(f)).toMatchObject({ name: 'commandComplete', text: 'SELECT 3' });
  });

  it('RowDescription writes every attribute with PostgreSQL defaults', () => {
    const f = rowDescription([
      { name: 'database', typeOid: 25 },
      { name: 'cl_active', typeOid: 20, typeSize: 8, typeMod: -1, format: 0, tableOid: 0, columnAttr: 0 },
      { name: 'bin', typeOid: 17, format: 1, tableOid: 16384, columnAttr: 3 },
    ]);
    expect(f).toEqual(
      frame(
        'T',
        i16(3),
        Buffer.concat([cstr('database'), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)]),
        Buffer.concat([cstr('cl_active'), i32(0), i16(0), i32(20), i16(8), i32(-1), i16(0)]),
        Buffer.concat([cstr('bin'), i32(16384), i16(3), i32(17), i16(-1), i32(-1), i16(1)]),
      ),
    );
    const msg = pgReadOne(f) as unknown as { fieldCount: number; fields: Record<string, unknown>[] };
    expect(msg.fieldCount).toBe(3);
    expect(msg.fields[0]).toMatchObject({ name: 'database', tableID: 0, columnID: 0, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' });
    expect(msg.fields[1]).toMatchObject({ name: 'cl_active', dataTypeID: 20, dataTypeSize: 8 });
    expect(msg.fields[2]).toMatchObject({ name: 'bin', tableID: 16384, columnID: 3, dataTypeID: 17, format: 'binary' });
  });

  it('DataRow writes text values and NULLs', () => {
    const f = dataRow(['app', null, '', '✓']);
    expect(f).toEqual(frame('D', i16(4), i32(3), str('app'), i32(-1), i32(0), i32(3), str('✓')));
    const msg = pgReadOne(f) as unknown as { fieldCount: number; fields: (string | null)[] };
    expect(msg.fieldCount).toBe(4);
    expect(msg.fields).toEqual(['app', null, '', '✓']);
    expect(pgReadOne(dataRow([])) as unknown as { fields: unknown[] }).toMatchObject({ fields: [] });
  });

  it('a whole admin reply in one chunk reads as its messages in order', () => {
    const reply = Buffer.concat([rowDescription([{ name: 'x', typeOid: 25 }]), dataRow(['1']), dataRow([null]), commandComplete('SHOW'), READY_IDLE]);
    expect(pgRead(reply).map((m) => m.name)).toEqual(['rowDescription', 'dataRow', 'dataRow', 'commandComplete', 'readyForQuery']);
  });
});
