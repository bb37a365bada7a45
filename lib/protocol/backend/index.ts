// Owns the public surface of lib/protocol/backend: messages pgmux sends its clients, and the
// decoders for the few server messages pgmux reads.

export { decodeErrorFields, errorCode, errorResponse, isShutdownFatal, noticeResponse, type DecodedErrorFields, type ErrorFields, type Severity } from './error-response';
export {
  AUTHENTICATION_CLEARTEXT,
  AUTHENTICATION_OK,
  authenticationCleartext,
  authenticationMD5,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  decodeAuthentication,
  type Authentication,
} from './authentication';
export {
  backendKeyData,
  decodeBackendKeyData,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  negotiateProtocolVersion,
  parameterStatus,
  READY_FAILED,
  READY_IDLE,
  READY_IN_TX,
  readyForQuery,
  readyForQueryStatus,
  type BackendKeyData,
  type NegotiateProtocolVersion,
  welcomeFrames,
  type ParameterStatus,
} from './session';
export {
  BIND_COMPLETE,
  bindComplete,
  CLOSE_COMPLETE,
  closeComplete,
  commandComplete,
  dataRow,
  EMPTY_QUERY_RESPONSE,
  emptyQueryResponse,
  NO_DATA,
  PARSE_COMPLETE,
  parseComplete,
  rowDescription,
  type FieldDescription,
} from './results';
export { invalid, type Invalid } from '../frontend/reader';
