// Owns Bind ('B'). Decoding reads only the portal and statement names, which is all pgmux needs
// to rewrite prepared-statement names; the parameters stay as the client's bytes and are reused
// verbatim when the statement name changes. The builder writes every field, for Binds pgmux makes.

import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

export interface Bind {
  readonly kind: 'bind';
  /** Destination portal; '' is the unnamed portal. */
  readonly portal: string;
  /** Source prepared statement; '' is the unnamed statement. */
  readonly statement: string;
  /** Absolute offset in the decoded buffer where the statement name begins (after the portal's NUL). */
  readonly statementStart: number;
  /**
   * Absolute offset in the decoded buffer where the parameter format codes begin. The bytes from
   * here to the frame's end (formats, values, result formats) are not decoded or checked here;
   * the server checks them.
   */
  readonly paramsStart: number;
}

export function decodeBind(buf: Buffer, start: number, end: number): Bind | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Bind, 'Bind');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const portal = r.cstring();
  if (portal === undefined) return invalid('Bind: portal name is not NUL-terminated');
  const statementStart = r.pos;
  const statement = r.cstring();
  if (statement === undefined) return invalid('Bind: statement name is not NUL-terminated');
  return { kind: 'bind', portal, statement, statementStart, paramsStart: r.pos };
}

/**
 * The Bind frame [start, end) that `bind` was decoded from, with its statement name replaced by
 * `statementZ` (a name's bytes and its NUL): the portal and parameter bytes are copied as they
 * are. This is what every Bind of a tracked statement goes through, so it only copies bytes.
 */
export function bindWithStatement(buf: Buffer, start: number, end: number, bind: Bind, statementZ: Buffer): Buffer {
  const head = bind.statementStart - start;
  const restLength = end - bind.paramsStart;
  const length = head + statementZ.length + restLength;
  const out = Buffer.allocUnsafe(length);
  if (length > SMALL_FRAME) {
    buf.copy(out, 0, start, bind.statementStart);
    statementZ.copy(out, head);
    buf.copy(out, head + statementZ.length, bind.paramsStart, end);
  } else {
    // Byte by byte: for a few dozen bytes this is cheaper than three calls into copy().
    let o = 0;
    for (let i = start; i < bind.statementStart; i++) out[o++] = buf[i];
    for (let i = 0; i < statementZ.length; i++) out[o++] = statementZ[i];
    for (let i = bind.paramsStart; i < end; i++) out[o++] = buf[i];
  }
  const n = length - 1;
  out[1] = n >>> 24;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  return out;
}

/** Frames up to this many bytes are copied in a loop rather than with Buffer.copy. */
const SMALL_FRAME = 256;

/**
 * The same Bind aimed at another statement: new names, then the original parameter bytes
 * [bind.paramsStart, end) of the frame `bind` was decoded from.
 */
export function bindRenamed(buf: Buffer, end: number, bind: Bind, statement: string, portal = bind.portal): Buffer {
  const rest = buf.subarray(bind.paramsStart, end);
  const w = new Writer(HEADER_LENGTH + Buffer.byteLength(portal) + Buffer.byteLength(statement) + 2 + rest.length);
  return w.cstring(portal).cstring(statement).bytes(rest).finish(FrontendCode.Bind);
}

export interface BindFields {
  portal?: string;
  statement?: string;
  /** Format per parameter (0 text, 1 binary); [] means all text, one entry applies to all. */
  paramFormats?: readonly number[];
  /** Values in the formats above; null is SQL NULL. A string is sent as its UTF-8 bytes. */
  params?: readonly (Buffer | string | null)[];
  /** Format per result column; [] means all text, one entry applies to all. */
  resultFormats?: readonly number[];
}

export function bind(f: BindFields): Buffer {
  const paramFormats = f.paramFormats ?? [];
  const params = f.params ?? [];
  const resultFormats = f.resultFormats ?? [];
  const w = new Writer(256);
  w.cstring(f.portal ?? '').cstring(f.statement ?? '');
  w.int16(paramFormats.length);
  for (const code of paramFormats) w.int16(code);
  w.int16(params.length);
  for (const value of params) {
    if (value === null) {
      w.int32(-1);
    } else if (typeof value === 'string') {
      w.int32(Buffer.byteLength(value)).string(value);
    } else {
      w.int32(value.length).bytes(value);
    }
  }
  w.int16(resultFormats.length);
  for (const code of resultFormats) w.int16(code);
  return w.finish(FrontendCode.Bind);
}
