// Owns Describe ('D') and Close ('C'): both name a prepared statement ('S') or a portal ('P'),
// which is what pgmux rewrites for prepared statements in transaction mode.

import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

/** 'S' names a prepared statement, 'P' a portal. */
export type Target = 'S' | 'P';

export interface Describe {
  readonly kind: 'describe';
  readonly target: Target;
  readonly name: string;
}

export interface Close {
  readonly kind: 'close';
  readonly target: Target;
  readonly name: string;
}

const TARGET_S = 0x53;
const TARGET_P = 0x50;

export function decodeDescribe(buf: Buffer, start: number, end: number): Describe | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Describe, 'Describe');
  if (bad !== null) return invalid(bad);
  return decodeTargetName(buf, start, end, 'describe', 'Describe');
}

export function decodeClose(buf: Buffer, start: number, end: number): Close | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Close, 'Close');
  if (bad !== null) return invalid(bad);
  return decodeTargetName(buf, start, end, 'close', 'Close');
}

function decodeTargetName<K extends 'describe' | 'close'>(
  buf: Buffer,
  start: number,
  end: number,
  kind: K,
  what: string,
): { readonly kind: K; readonly target: Target; readonly name: string } | Invalid {
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const t = r.byte();
  if (t !== TARGET_S && t !== TARGET_P) {
    return invalid(t === undefined ? `${what}: missing target type` : `${what}: invalid target type 0x${t.toString(16)}`);
  }
  const name = r.cstring();
  if (name === undefined) return invalid(`${what}: name is not NUL-terminated`);
  if (!r.atEnd) return invalid(`${what}: bytes after the name`);
  return { kind, target: t === TARGET_S ? 'S' : 'P', name };
}

export function describe(target: Target, name: string): Buffer {
  return targetName(FrontendCode.Describe, target, name);
}

export function close(target: Target, name: string): Buffer {
  return targetName(FrontendCode.Close, target, name);
}

function targetName(code: number, target: Target, name: string): Buffer {
  const w = new Writer(HEADER_LENGTH + 1 + Buffer.byteLength(name) + 1);
  return w.int8(target === 'S' ? TARGET_S : TARGET_P).cstring(name).finish(code);
}
