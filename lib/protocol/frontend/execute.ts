// Owns Execute ('E'): decoded to learn which portal runs, built for Executes pgmux sends itself.

import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

export interface Execute {
  readonly kind: 'execute';
  readonly portal: string;
  /** Row limit; 0 (or less) means no limit. */
  readonly maxRows: number;
}

export function decodeExecute(buf: Buffer, start: number, end: number): Execute | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Execute, 'Execute');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const portal = r.cstring();
  if (portal === undefined) return invalid('Execute: portal name is not NUL-terminated');
  const maxRows = r.int32();
  if (maxRows === undefined || !r.atEnd) return invalid('Execute: expected a 4-byte row limit after the portal name');
  return { kind: 'execute', portal, maxRows };
}

export function execute(portal = '', maxRows = 0): Buffer {
  return new Writer(HEADER_LENGTH + Buffer.byteLength(portal) + 1 + 4).cstring(portal).int32(maxRows).finish(FrontendCode.Execute);
}
