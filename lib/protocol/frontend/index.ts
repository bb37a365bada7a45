// Owns the public surface of lib/protocol/frontend: messages clients send (decoded by pgmux) and
// the same messages built by pgmux when it is the client of a server.

export { invalid, notUtf8, Reader, typedFrameError, type Invalid } from './reader';
export {
  cancelRequest,
  decodeStartup,
  GSSENC_REQUEST,
  SSL_REQUEST,
  sslRequest,
  startupMessage,
  type CancelRequest,
  type GSSENCRequest,
  type SSLRequest,
  type StartupMessage,
  type StartupPacket,
  type UnsupportedProtocol,
} from './startup';
export { decodeQuery, query, type Query } from './query';
export { decodeParse, parse, parseTextIsUtf8, type Parse } from './parse';
export { bind, bindRenamed, bindWithStatement, decodeBind, type Bind, type BindFields } from './bind';
export { close, decodeClose, decodeDescribe, describe, type Close, type Describe, type Target } from './describe-close';
export { decodeExecute, execute, type Execute } from './execute';
export {
  decodePasswordMessage,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  type PasswordMessage,
  type SASLInitialResponse,
  type SASLResponse,
} from './password';
export { flush, FLUSH, sync, SYNC, terminate, TERMINATE } from './fixed';

import type { Bind } from './bind';
import type { Close, Describe } from './describe-close';
import type { Execute } from './execute';
import type { Parse } from './parse';
import type { PasswordMessage, SASLInitialResponse, SASLResponse } from './password';
import type { Query } from './query';
import type { StartupPacket } from './startup';

/** Every decoded client message; `kind` narrows it in a switch. */
export type FrontendMessage =
  | StartupPacket
  | Query
  | Parse
  | Bind
  | Describe
  | Close
  | Execute
  | PasswordMessage
  | SASLInitialResponse
  | SASLResponse;
