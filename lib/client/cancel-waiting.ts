// Owns the answer to a CancelRequest for a client whose request still waits for a server (held
// through a failover, queued for a full pool, waiting for a replica to catch up): nothing of it
// has run, so it is answered as PostgreSQL answers a cancelled statement (57014, then
// ReadyForQuery) instead of running later, after the user gave up on it. Only a whole request
// (one Query, or one extended batch through its only Sync) is answered here: pgmux cannot answer
// half of one, nor part of a pipeline.

import { errorResponse, READY_IDLE } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import { readBatch, type StatementTexts } from '../rules/request';

/** Whether the request is whole does not depend on what its statements say. */
const NO_TEXTS: StatementTexts = { statementText: () => undefined };

/** The bytes answering the cancelled request `queued`, or null when it is not one whole request. */
export function canceledWhileWaiting(queued: readonly Buffer[]): Buffer | null {
  if (queued.length === 0) return null;
  const buf = queued.length === 1 ? queued[0] : Buffer.concat(queued);
  if (!readBatch(buf, NO_TEXTS, false).whole) return null;
  return Buffer.concat([errorResponse(refusals.canceledWhileWaiting()), READY_IDLE]);
}
