// Owns the session-state messages of the welcome and of every round trip: ParameterStatus,
// BackendKeyData, ReadyForQuery and NegotiateProtocolVersion. Built for clients, decoded from
// servers (ReadyForQuery's status byte on the hot path, the rest during login).

import { BackendCode, HEADER_LENGTH, TxStatus, type TxStatusByte } from '../codes';
import { invalid, Reader, typedFrameError, type Invalid } from '../frontend/reader';
import { Writer } from '../writer';

export interface ParameterStatus {
  readonly kind: 'parameter-status';
  readonly name: string;
  readonly value: string;
}

export interface BackendKeyData {
  readonly kind: 'backend-key';
  readonly pid: number;
  readonly secret: number;
}

export interface NegotiateProtocolVersion {
  readonly kind: 'negotiate-protocol-version';
  /** Low 16 bits of the version field: right both for PostgreSQL's 3 << 16 | minor and for a bare minor. */
  readonly newestMinor: number;
  readonly unrecognized: string[];
}

export function parameterStatus(name: string, value: string): Buffer {
  const size = HEADER_LENGTH + Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
  return new Writer(size).cstring(name).cstring(value).finish(BackendCode.ParameterStatus);
}

export function decodeParameterStatus(buf: Buffer, start: number, end: number): ParameterStatus | Invalid {
  const bad = typedFrameError(buf, start, end, BackendCode.ParameterStatus, 'ParameterStatus');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const name = r.cstring();
  const value = name === undefined ? undefined : r.cstring();
  if (name === undefined || value === undefined || !r.atEnd) return invalid('ParameterStatus: expected exactly a name and a value');
  return { kind: 'parameter-status', name, value };
}

export function backendKeyData(pid: number, secret: number): Buffer {
  return new Writer(HEADER_LENGTH + 8).int32(pid).int32(secret).finish(BackendCode.BackendKeyData);
}

export function decodeBackendKeyData(buf: Buffer, start: number, end: number): BackendKeyData | Invalid {
  const bad = typedFrameError(buf, start, end, BackendCode.BackendKeyData, 'BackendKeyData');
  if (bad !== null) return invalid(bad);
  if (end - start !== HEADER_LENGTH + 8) return invalid('BackendKeyData: body must be 8 bytes');
  return { kind: 'backend-key', pid: buf.readInt32BE(start + 5), secret: buf.readInt32BE(start + 9) };
}

function readyFrame(status: TxStatusByte): Buffer {
  return new Writer(HEADER_LENGTH + 1).int8(status).finish(BackendCode.ReadyForQuery);
}

/** ReadyForQuery 'I' (idle). Shared: never write into it. */
export const READY_IDLE: Buffer = readyFrame(TxStatus.Idle);
/** ReadyForQuery 'T' (in a transaction block). Shared: never write into it. */
export const READY_IN_TX: Buffer = readyFrame(TxStatus.InTransaction);
/** ReadyForQuery 'E' (in a failed transaction block). Shared: never write into it. */
export const READY_FAILED: Buffer = readyFrame(TxStatus.Failed);

const READY_BY_STATUS: Readonly<Record<TxStatusByte, Buffer>> = {
  [TxStatus.Idle]: READY_IDLE,
  [TxStatus.InTransaction]: READY_IN_TX,
  [TxStatus.Failed]: READY_FAILED,
};

/**
 * A login's welcome as one buffer, so it leaves in one write (a write per message was a system
 * call and a wake-up of the client each, under pgbench -C): `before` (AuthenticationOk, after a
 * SASLFinal) when it has not gone yet, the ParameterStatus run `status`, BackendKeyData and
 * ReadyForQuery 'I'.
 */
export function welcomeFrames(before: Buffer | null, status: Buffer, pid: number, secret: number): Buffer {
  const head = before === null ? 0 : before.length;
  const out = Buffer.allocUnsafe(head + status.length + HEADER_LENGTH + 8 + READY_IDLE.length);
  let at = 0;
  if (before !== null) at += before.copy(out, 0);
  at += status.copy(out, at);
  out[at] = BackendCode.BackendKeyData;
  out.writeInt32BE(4 + 8, at + 1);
  out.writeInt32BE(pid, at + 5);
  out.writeInt32BE(secret, at + 9);
  READY_IDLE.copy(out, at + HEADER_LENGTH + 8);
  return out;
}

/** The prebuilt ReadyForQuery for a status byte (no allocation). */
export function readyForQuery(status: TxStatusByte): Buffer {
  return READY_BY_STATUS[status];
}

/**
 * The status byte of a ReadyForQuery frame starting at `start`, or undefined if it is none of
 * I/T/E. For the forwarding path: it trusts the framer for the frame's type and length.
 */
export function readyForQueryStatus(buf: Buffer, start: number): TxStatusByte | undefined {
  const s = buf[start + HEADER_LENGTH];
  return s === TxStatus.Idle || s === TxStatus.InTransaction || s === TxStatus.Failed ? s : undefined;
}

/**
 * NegotiateProtocolVersion: the newest 3.x minor version pgmux speaks and the startup options
 * ('_pq_.*') it did not recognize. Sent when a client asks for 3.1+ or sends such options.
 *
 * The protocol docs call the first field the newest minor version, but PostgreSQL writes the
 * whole version code (PG_PROTOCOL_LATEST, 3 << 16 for 3.0) and libpq reads it as major.minor,
 * so pgmux writes it the way PostgreSQL does.
 */
export function negotiateProtocolVersion(newestMinor: number, unrecognized: readonly string[]): Buffer {
  const w = new Writer(64).int32((3 << 16) | newestMinor).int32(unrecognized.length);
  for (const name of unrecognized) w.cstring(name);
  return w.finish(BackendCode.NegotiateProtocolVersion);
}

export function decodeNegotiateProtocolVersion(buf: Buffer, start: number, end: number): NegotiateProtocolVersion | Invalid {
  const bad = typedFrameError(buf, start, end, BackendCode.NegotiateProtocolVersion, 'NegotiateProtocolVersion');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const version = r.int32();
  const count = r.int32();
  if (version === undefined || count === undefined || count < 0) return invalid('NegotiateProtocolVersion: missing version or option count');
  const newestMinor = version & 0xffff;
  const unrecognized: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    if (name === undefined) return invalid(`NegotiateProtocolVersion: option ${i + 1} of ${count} is not NUL-terminated`);
    unrecognized.push(name);
  }
  if (!r.atEnd) return invalid('NegotiateProtocolVersion: bytes after the option names');
  return { kind: 'negotiate-protocol-version', newestMinor, unrecognized };
}
