// Owns what a client gets back for the statements pgmux answers about its LISTEN channels in
// transaction pooling (./listen-statements recognises them): PostgreSQL's own messages, as a
// server would send them, built here and applied to the client's ListenSession (./channels).

import { TxStatus, type TxStatusByte } from '../protocol/codes';
import { commandComplete, dataRow, errorResponse, readyForQuery, rowDescription } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { ListenSession } from './channels';
import type { ListenStatement } from './listen-statements';

/** OID of type text: pg_listening_channels() returns SETOF text. */
const TEXT_OID = 25;

export interface ListenAnswer {
  /** The whole answer, ReadyForQuery included. */
  readonly bytes: Buffer;
  /** Channels LISTENed that were new (or, in a transaction, reserved): the answer waits until the listener LISTENs on them. */
  readonly newChannels: readonly string[];
}

/**
 * Runs `statements` (one simple Query) for the client whose transaction status is `status`:
 * outside a transaction they take effect now; inside one they wait for its end (./channels);
 * in a failed one PostgreSQL refuses them with 25P02.
 */
export function answerListenStatements(statements: readonly ListenStatement[], session: ListenSession, status: TxStatusByte): ListenAnswer {
  if (status === TxStatus.Failed) return { bytes: Buffer.concat([errorResponse(refusals.inFailedTransaction()), readyForQuery(status)]), newChannels: [] };
  const parts: Buffer[] = [];
  const fresh: string[] = [];
  const inTx = status === TxStatus.InTransaction;
  for (const s of statements) {
    switch (s.kind) {
      case 'listen':
        if (inTx) {
          // Reserved on the listener now; it must be LISTENing by the time the COMMIT returns.
          session.inTx(s);
          fresh.push(s.channel);
        } else if (session.listen(s.channel)) fresh.push(s.channel);
        parts.push(LISTEN);
        break;
      case 'unlisten':
        if (inTx) session.inTx(s);
        else session.unlisten(s.channel);
        parts.push(UNLISTEN);
        break;
      case 'channels':
        parts.push(rowDescription([{ name: s.column, typeOid: TEXT_OID }]));
        for (const c of session.channels) parts.push(dataRow([c]));
        parts.push(commandComplete(`SELECT ${session.channels.size}`));
        break;
      case 'discard-all':
        // Never here: alone, it goes on to a server after the channels are cleared (./listen-glue); mixed, it is not pgmux's.
        break;
    }
  }
  parts.push(readyForQuery(status));
  return { bytes: Buffer.concat(parts), newChannels: fresh };
}

const LISTEN = commandComplete('LISTEN');
const UNLISTEN = commandComplete('UNLISTEN');
