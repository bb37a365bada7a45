// Owns reading, on the first pooled connection of a run of its host's postmaster, when that
// postmaster started (lib/failover/postmaster-runs): one query of pgmux's own, pipelined ahead of
// the first request the connection serves (its answer is swallowed), so a single host needs no
// probe connection to know it, and no client waits for it.

import { POSTMASTER_START_SQL, type PostmasterRun } from '../failover/postmaster-runs';
import { log } from '../log';
import { decodeTextRow } from '../routing/monitor';
import type { ServerConnection } from './server-connection';

const SQL = `SELECT ${POSTMASTER_START_SQL}`;

/** Reads the start time on `server` (just logged in) for `run`. */
export function readPostmasterStart(server: ServerConnection, run: PostmasterRun): void {
  let startTime: string | null = null;
  server.runInternal(SQL, {
    unmetered: true,
    row: (buf, start, end) => {
      startTime = decodeTextRow(buf, start, end)?.[0] ?? null;
    },
    done: (srv, error) => {
      if (error !== null) log.warn(`cannot read the server's start time (${error.message}); a restart in place that cuts a statement is then told from a terminated session only by the health probe`, srv);
      run.learned(error === null ? startTime : null, error !== null);
    },
    // Closed first (RECONNECT of an idle server, say): the run's next login reads it instead.
    lost: () => run.learned(null),
  });
}
