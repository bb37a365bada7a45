// Owns what a client connection needs from the rest of pgmux: pools, secrets, cancel keys, the
// prepared-statement registry, the console, routing, rules, metrics and LISTEN hubs. The
// registry (lib/pool/registry) implements it; specs give a small one of their own.

import type { ErrorFields } from '../protocol/backend';
import type { Settings } from '../config';
import type { Secret } from '../auth/secret';
import type { HbaLogin } from '../auth/hba';
import type { AuthQueryResult } from '../auth/auth-query';
import type { TrackedParams } from '../server/params';
import type { Pool } from '../pool/pool';
import type { StatementRegistry } from '../prepared/statements';
import type { ClientRouter } from '../routing/router';
import type { ClientRules } from '../rules/client-rules';
import type { QueryObserver } from '../metrics/observer';
import type { ChannelHub } from '../session/channels';
import type { ConsoleGate } from './console-gate';
import type { ClientConnection } from './client-connection';

/** What a client needs from the rest of pgmux (the registry implements it). */
export interface ClientContext {
  readonly settings: Settings;
  readonly tracked: TrackedParams;
  /** The pool for this database and user, or the refusal to send. */
  findPool(database: string, user: string): Pool | ErrorFields;
  userSecret(user: string): Secret | undefined;
  /** auth_type, or under hba the matching rule's method ('reject' when none) and its file:line. */
  authTypeFor(login: HbaLogin): { authType: string; rule: string | null };
  /** auth_query's answer for a user missing from auth_file; null when no auth_user applies. */
  queryUserSecret(database: string, user: string): Promise<AuthQueryResult> | null;
  /** Issues this client's BackendKeyData key; cancel requests look it up. */
  assignCancelKey(client: ClientConnection): { pid: number; secret: number };
  cancel(pid: number, secret: number): void;
  /** A client went idle (state 'idle'); set while a restart hands clients over (lib/workers/handover). */
  readonly wentIdle?: ((client: ClientConnection) => void) | null;
  /** A turned-away client is let in after all (the admin console): it counts from now on. */
  admitOverLimit(client: ClientConnection): void;
  clientClosed(client: ClientConnection): void;
  /** The shared prepared-statement registry (max_prepared_statements > 0). */
  readonly statements: StatementRegistry;
  /** The admin console: who may log in to database "pgbouncer", and their sessions. */
  readonly console: ConsoleGate;
  /** Read/write splitting for this client of `pool`, or null (no replicas, session pooling). */
  routerFor?(client: ClientConnection, pool: Pool): ClientRouter | null;
  /** The [rules] and the result cache as this client of `pool` meets them (lib/rules), or null. */
  rulesFor?(client: ClientConnection, pool: Pool): ClientRules | null;
  /** Per-request metrics and the slow-query log (lib/metrics/observer); absent in specs that need none. */
  readonly observer?: QueryObserver;
  /** LISTEN/NOTIFY for clients of `pool` through its listener connection (lib/session/channels); null in session pooling. */
  listenHubFor?(pool: Pool): ChannelHub | null;
}
