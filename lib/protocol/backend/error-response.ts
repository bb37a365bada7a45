// Owns ErrorResponse ('E') and NoticeResponse ('N'): the fields type, building them for clients,
// and decoding a server's so pgmux can log it, act on its SQLSTATE, or pass its text on.

import { BackendCode, HEADER_LENGTH, ServerSqlState } from '../codes';
import { invalid, Reader, type Invalid } from '../frontend/reader';
import { Writer } from '../writer';

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'LOG' | 'INFO' | 'DEBUG';

const SEVERITIES: ReadonlySet<string> = new Set<Severity>(['ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'LOG', 'INFO', 'DEBUG']);

function isSeverity(s: string | undefined): s is Severity {
  return s !== undefined && SEVERITIES.has(s);
}

export interface ErrorFields {
  severity: Severity;
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

type OptionalField = Exclude<keyof ErrorFields, 'severity' | 'code' | 'message'>;

/**
 * Optional fields with their one-byte codes, in the order PostgreSQL writes them (after S, V, C,
 * M). One table drives both the builder and the decoder.
 */
const OPTIONAL_FIELDS: readonly (readonly [number, OptionalField])[] = [
  [0x44, 'detail'], // 'D'
  [0x48, 'hint'], // 'H'
  [0x50, 'position'], // 'P'
  [0x70, 'internalPosition'], // 'p'
  [0x71, 'internalQuery'], // 'q'
  [0x57, 'where'], // 'W'
  [0x73, 'schema'], // 's'
  [0x74, 'table'], // 't'
  [0x63, 'column'], // 'c'
  [0x64, 'dataType'], // 'd'
  [0x6e, 'constraint'], // 'n'
  [0x46, 'file'], // 'F'
  [0x4c, 'line'], // 'L'
  [0x52, 'routine'], // 'R'
];
const FIELD_BY_CODE = new Map<number, OptionalField>(OPTIONAL_FIELDS);

const F_SEVERITY = 0x53; // 'S' (localized on the server side)
const F_SEVERITY_V = 0x56; // 'V' (never localized, PostgreSQL 9.6+)
const F_CODE = 0x43; // 'C'
const F_MESSAGE = 0x4d; // 'M'

export function errorResponse(f: ErrorFields): Buffer {
  return encodeFields(BackendCode.ErrorResponse, f);
}

export function noticeResponse(f: ErrorFields): Buffer {
  return encodeFields(BackendCode.NoticeResponse, f);
}

function encodeFields(type: number, f: ErrorFields): Buffer {
  // Like PostgreSQL, send the severity twice: 'S' for people, 'V' for programs.
  const w = new Writer(128 + Buffer.byteLength(f.message));
  w.int8(F_SEVERITY).cstring(f.severity);
  w.int8(F_SEVERITY_V).cstring(f.severity);
  w.int8(F_CODE).cstring(f.code);
  w.int8(F_MESSAGE).cstring(f.message);
  for (const [code, key] of OPTIONAL_FIELDS) {
    const value = f[key];
    if (value !== undefined) w.int8(code).cstring(value);
  }
  return w.int8(0).finish(type);
}

/** Decoded ErrorResponse or NoticeResponse; usable wherever ErrorFields is expected. */
export interface DecodedErrorFields extends ErrorFields {
  readonly kind: 'error' | 'notice';
  /** Every field as received, keyed by its one-letter code (unknown codes included). */
  readonly raw: ReadonlyMap<string, string>;
}

/**
 * Decodes an 'E' or 'N' frame. S, C and M must be present (the protocol says they always are).
 * Severity comes from 'V' when the server sent it, else from 'S' when that is not localized,
 * else it is taken as 'ERROR' (raw still holds what the server said).
 */
export function decodeErrorFields(buf: Buffer, start: number, end: number): DecodedErrorFields | Invalid {
  if (start < 0 || end > buf.length || end - start < HEADER_LENGTH) return invalid('ErrorResponse: frame shorter than its header');
  const type = buf[start];
  const kind = type === BackendCode.ErrorResponse ? 'error' : type === BackendCode.NoticeResponse ? 'notice' : undefined;
  const what = kind === 'notice' ? 'NoticeResponse' : 'ErrorResponse';
  if (kind === undefined) return invalid(`ErrorResponse: unexpected message type 0x${type.toString(16)}`);
  const declared = buf.readInt32BE(start + 1);
  if (declared !== end - start - 1) return invalid(`${what}: declared length ${declared} but frame holds ${end - start - 1}`);

  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const raw = new Map<string, string>();
  const fields: Partial<Record<OptionalField, string>> = {};
  for (;;) {
    const code = r.byte();
    if (code === undefined) return invalid(`${what}: missing terminator`);
    if (code === 0) break;
    const value = r.cstring();
    if (value === undefined) return invalid(`${what}: field '${String.fromCharCode(code)}' is not NUL-terminated`);
    raw.set(String.fromCharCode(code), value);
    const key = FIELD_BY_CODE.get(code);
    if (key !== undefined) fields[key] = value;
  }
  if (!r.atEnd) return invalid(`${what}: bytes after the terminator`);

  const s = raw.get('S');
  const code = raw.get('C');
  const message = raw.get('M');
  if (s === undefined || code === undefined || message === undefined) return invalid(`${what}: missing severity, code or message`);
  const v = raw.get('V');
  const severity: Severity = isSeverity(v) ? v : isSeverity(s) ? s : 'ERROR';
  return { ...fields, kind, severity, code, message, raw };
}

/** Whether an ErrorResponse frame is FATAL with SQLSTATE 57P01 (admin_shutdown: a fast shutdown, pg_terminate_backend). */
export function isShutdownFatal(buf: Buffer, start: number, end: number): boolean {
  const f = decodeErrorFields(buf, start, end);
  return f.kind !== 'invalid' && f.severity === 'FATAL' && f.code === ServerSqlState.AdminShutdown;
}

/** The SQLSTATE ('C' field) of an ErrorResponse frame, or null; reads nothing else. */
export function errorCode(buf: Buffer, start: number, end: number): string | null {
  let i = start + HEADER_LENGTH;
  while (i < end && buf[i] !== 0) {
    const nul = buf.indexOf(0, i + 1);
    if (nul < 0 || nul >= end) return null;
    if (buf[i] === 0x43) return buf.toString('latin1', i + 1, nul);
    i = nul + 1;
  }
  return null;
}
