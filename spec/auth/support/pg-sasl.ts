// Owns driving node-postgres's own SCRAM client code (pg/lib/crypto/sasl.js) against a ScramServer.

import type { ScramServer, ScramServerResult } from '../../../lib/auth/scram-server';

interface PgSaslSession {
  response: string;
}

interface PgSasl {
  startSession(mechanisms: string[], stream?: object): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string, stream?: object): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}

export const pgSasl = require('pg/lib/crypto/sasl') as PgSasl;

/**
 * One full SCRAM login of pg's client against `server`. `stream` set to any non-TLS object makes
 * pg send the "y" gs2 flag (client could bind, server offered no -PLUS), as it does over TLS.
 * When the server accepts, pg's finalizeSession has checked the server signature too.
 */
export async function pgLogin(server: ScramServer, password: string, stream?: object): Promise<ScramServerResult> {
  const session = pgSasl.startSession(server.mechanisms(), stream);
  const serverFirst = server.clientFirst(Buffer.from(session.response, 'utf8'));
  await pgSasl.continueSession(session, password, serverFirst, stream);
  const result = server.clientFinal(Buffer.from(session.response, 'utf8'));
  if (result.ok) pgSasl.finalizeSession(session, result.serverFinal);
  return result;
}
