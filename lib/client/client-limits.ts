// Owns what a logged-in client may send and how a refused header is answered: PostgreSQL's bounds
// per message type (lib/protocol/limits) under max_packet_size, without Query under disable_pqexec.

import { FrontendCode } from '../protocol/codes';
import { frontendLimits, type FrameLimits } from '../protocol/limits';
import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { Settings } from '../config';

/** What a logged-in client may send: PostgreSQL's bounds, max_packet_size, and no Query under disable_pqexec. */
export function clientLimits(settings: Settings): FrameLimits {
  return frontendLimits(settings.max_packet_size, !settings.disable_pqexec);
}

/** The refusal for a header the client limits refused: PgBouncer's text for a Query under disable_pqexec. */
export function frameRefusal(type: number, reason: string, settings: Settings): ErrorFields {
  return type === FrontendCode.Query && settings.disable_pqexec ? refusals.pqexecDisallowed() : refusals.protocolViolation(reason);
}

