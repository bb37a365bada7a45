// Owns the protocol's constants: message type bytes per direction, startup codes, SQLSTATEs.
//
// 'D', 'S', 'E' and 'C' mean different things from the client and from the server, so the
// two directions are separate tables. Plain `as const` objects (not const enums) so swc and
// isolatedModules see the same values in every file.

/** Message types a client (frontend) sends. */
export const FrontendCode = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  Password: 0x70, // 'p' (also SASLInitialResponse, SASLResponse, GSSResponse)
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const;

/** Message types a server (backend) sends. */
export const BackendCode = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const;

/**
 * Packets of the startup phase have no type byte. The framer, in startup mode, maps them to
 * values above 0xFF so one switch can serve both phases (PgBouncer's PKT_* codes).
 */
export const StartupCode = {
  Startup: 0x100,
  SSLRequest: 0x101,
  GSSENCRequest: 0x102,
  CancelRequest: 0x103,
  /**
   * Bytes that cannot begin a startup packet (a foreign protocol, a bad length, protocol 2.0):
   * handed over as soon as that is certain, with the bytes seen so far.
   */
  Invalid: 0x1ff,
} as const;

/** The int32 that follows the length in each untyped startup packet. */
export const StartupMagic = {
  Protocol3: 196608, // 3 << 16
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
  CancelRequest: 80877102,
} as const;

/** Authentication request sub-codes inside an 'R' message. */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Transaction status byte of ReadyForQuery. */
export const TxStatus = {
  Idle: 0x49, // 'I'
  InTransaction: 0x54, // 'T'
  Failed: 0x45, // 'E'
} as const;
export type TxStatusByte = (typeof TxStatus)[keyof typeof TxStatus];

/** SQLSTATEs pgmux itself raises. One row per condition; no catch-all. */
export const SqlState = {
  AdminShutdown: '57P01',
  CannotConnectNow: '57P03',
  ConnectionException: '08000',
  ConnectionFailure: '08006',
  ConfigurationLimitExceeded: '53400',
  FeatureNotSupported: '0A000',
  InvalidAuthorizationSpecification: '28000',
  InvalidPassword: '28P01',
  InvalidCatalogName: '3D000',
  ObjectNotInPrerequisiteState: '55000',
  ProtocolViolation: '08P01',
  QueryCanceled: '57014',
  TooManyConnections: '53300',
  IdleInTransactionTimeout: '25P03',
  /** A statement in a failed transaction block (pgmux answers LISTEN there as PostgreSQL does). */
  InFailedSqlTransaction: '25P02',
  /** A WARNING of pgmux's own (missed or dropped notifications). */
  Warning: '01000',
  IdleSessionTimeout: '57P05',
  InternalError: 'XX000',
} as const;
export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];

/** SQLSTATEs pgmux looks for in servers' errors (lib/server, lib/failover). */
export const ServerSqlState = {
  /** A write on a standby (or in a READ ONLY transaction): the failover layer checks the host's role. */
  ReadOnlySqlTransaction: '25006',
  /** Fast shutdown or pg_terminate_backend as FATAL; an immediate shutdown as WARNING (lib/client/resend). */
  AdminShutdown: '57P01',
  /** Another backend crashed: every connection ends (a WARNING first). */
  CrashShutdown: '57P02',
  /** A Parse under a name the server holds (lib/prepared: pgmux's record of that server was wrong). */
  DuplicatePreparedStatement: '42P05',
} as const;

/** Length of a typed message header: type byte + int32 length. */
export const HEADER_LENGTH = 5;
