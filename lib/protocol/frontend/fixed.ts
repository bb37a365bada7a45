// Owns the frontend messages that have no body: built once, shared, never written into.

import { FrontendCode } from '../codes';
import { Writer } from '../writer';

/** Sync ('S'): ends an extended-query batch; the server answers ReadyForQuery. */
export const SYNC: Buffer = new Writer(5).finish(FrontendCode.Sync);

/** Flush ('H'): asks the server to send what it has buffered. */
export const FLUSH: Buffer = new Writer(5).finish(FrontendCode.Flush);

/** Terminate ('X'): pgmux closing a server connection politely. */
export const TERMINATE: Buffer = new Writer(5).finish(FrontendCode.Terminate);

export function sync(): Buffer {
  return SYNC;
}

export function flush(): Buffer {
  return FLUSH;
}

export function terminate(): Buffer {
  return TERMINATE;
}
