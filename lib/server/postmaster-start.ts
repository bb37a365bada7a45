// Owns reading, on the first pooled connection of a run of its host's postmaster, when that
// postmaster started (lib/failover/postmaster-runs): one query of pgmux's own, pipelined ahead of
// the first request the connection serves (its answer is swallowed), so a single host needs no
// probe connection to know it, and no client waits for it.

import { POSTMASTER_START_SQL, type PostmasterRun } from '../failover/postmaster-runs';
import { decodeTextRow } from '../routing/monitor';
import type { ServerConnection } from './server-connection';

const SQL = `SELECT ${POSTMASTER_START_SQL}`;

/** Reads the start time on `server` (just logged in) for `run`. */
export function readPostmasterStart(server: ServerConnection, run: PostmasterRun): void {
  let startTime: string | null = null;
  server.runInternal(SQL, {
    row: (buf, start, end) => {
      startTime = decodeTextRow(buf, start, end)?.[0] ?? null;
    },
    done: (_server, error) => run.learned(error === null ? startTime : null),
  });
}
