// Owns the cheap liveness check of a host nobody probes (a single-host database whose primary
// serves, PgBouncer-style, with no probe connection): open a socket, send a GSSENCRequest, read
// the one-byte answer ('G' or 'N'), close. The answer comes from a backend the postmaster forked,
// so it shows the postmaster is running and accepting (a stopped or frozen one leaves it
// unanswered), without a login: nothing in pg_stat_activity, no connection slot, and PostgreSQL
// logs nothing for a connection that ends before its startup packet or GSS token (checked with
// log_min_messages = debug1 and ssl = on). Not an SSLRequest: a server with ssl = on answers
// 'S' and then logs "could not accept SSL connection: EOF detected" for every ping. What a failed
// ping means is the full probe's to decide (lib/failover/backend.ts asks it at once).

import { GSSENC_REQUEST } from '../protocol/frontend';
import { connectError, openSocket, type BackendAddress } from './dialer';

/** Calls `done(null)` when the host answered within `timeoutMs`, else `done(reason)`; once. */
export function ping(address: BackendAddress, timeoutMs: number, done: (failure: string | null) => void): void {
  const socket = openSocket(address);
  let settled = false;
  const finish = (failure: string | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    done(failure);
  };
  const timer = setTimeout(() => finish(`no answer to a ping (GSSENCRequest) within ${timeoutMs} ms`), timeoutMs);
  socket.on('error', (err: NodeJS.ErrnoException) => finish(connectError(err)));
  socket.on('close', () => finish('server closed the connection before answering a ping'));
  socket.once('connect', () => socket.write(GSSENC_REQUEST));
  socket.once('data', () => finish(null));
}
