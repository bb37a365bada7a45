// Owns how long a declared message may be, per message type and phase, and why a header that
// breaks the bound is refused. The bounds are PostgreSQL 15's own (postgres.c SocketBackend and
// pq_getmessage, auth.c recv_password_packet), capped by max_packet_size: a header that declares
// more, or a type no client sends in that phase, is refused as soon as its five bytes are in,
// before any of its body is waited for or buffered.

import { FrontendCode } from './codes';

/** PostgreSQL's PQ_SMALL_MESSAGE_LIMIT: Sync, Flush, Terminate, Describe, Close, Execute, CopyDone, CopyFail. */
export const SMALL_MESSAGE_LIMIT = 10000;

/** PostgreSQL's PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1): Query, Parse, Bind, FunctionCall, CopyData. */
export const LARGE_MESSAGE_LIMIT = 0x3fffffff - 1;

/** PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: the longest password, SASL or GSS message before login. */
export const AUTH_MESSAGE_LIMIT = 65535;

/** A frame's type byte as people read it: 'Q', or 0x00 when it is no printable character. */
export function showType(type: number): string {
  return type >= 0x21 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}

/**
 * The longest declared length (the int32 after the type byte, which counts itself) accepted per
 * type byte; 0 for a type that is refused outright. One typed-array read per header.
 */
export class FrameLimits {
  private readonly table = new Float64Array(256);

  /**
   * @param bounds PostgreSQL's bound per accepted type.
   * @param cap a setting's bound over all types (max_packet_size), or null.
   * @param unknownType the refusal text for a type not in `bounds`.
   */
  constructor(
    private readonly bounds: ReadonlyMap<number, number>,
    private readonly cap: { readonly name: string; readonly value: number } | null,
    private readonly unknownType: (type: number) => string,
  ) {
    for (const [type, bound] of bounds) this.table[type] = cap === null ? bound : Math.min(bound, cap.value);
  }

  /** The longest declared length accepted for `type`; 0 when the type itself is refused. */
  max(type: number): number {
    return this.table[type];
  }

  /** Whether a header of this type and declared length may be read on. */
  accepts(type: number, length: number): boolean {
    return length >= 4 && length <= this.table[type];
  }

  /** Why a header `accepts` refused is refused: the type, the declared length and the bound. */
  refusal(type: number, length: number, atLeast = false): string {
    const bound = this.bounds.get(type);
    if (bound === undefined) return this.unknownType(type);
    if (length < 4) return `invalid message length ${length} for message type ${showType(type)}: the length counts itself, so it is at least 4`;
    const declared = atLeast ? `at least ${length}` : `${length}`;
    if (this.cap !== null && this.cap.value < bound) return `message type ${showType(type)} declares ${declared} bytes, more than ${this.cap.name} (${this.cap.value})`;
    return `invalid message length ${declared} for message type ${showType(type)}: PostgreSQL accepts at most ${bound}`;
  }

  /**
   * For a header not yet whole (`n` < 5 bytes at buf[start]): why it is refused already, or null
   * while its type is accepted and the length bytes so far allow a length within the bound. A
   * client that sends a bad type byte, or a length's high bytes, and then nothing is not waited for.
   */
  earlyRefusal(buf: Buffer, start: number, n: number): string | null {
    const type = buf[start];
    const max = this.table[type];
    if (max === 0) return this.unknownType(type);
    let least = 0;
    for (let i = 1; i < 5; i++) least = least * 256 + (i < n ? buf[start + i] : 0);
    return least > max ? this.refusal(type, least, true) : null;
  }
}

const F = FrontendCode;

/** What a logged-in client may send, and PostgreSQL's bound for each (postgres.c SocketBackend). */
const FRONTEND_BOUNDS: ReadonlyMap<number, number> = new Map([
  [F.Query, LARGE_MESSAGE_LIMIT],
  [F.FunctionCall, LARGE_MESSAGE_LIMIT],
  [F.Parse, LARGE_MESSAGE_LIMIT],
  [F.Bind, LARGE_MESSAGE_LIMIT],
  [F.CopyData, LARGE_MESSAGE_LIMIT],
  [F.Terminate, SMALL_MESSAGE_LIMIT],
  [F.Close, SMALL_MESSAGE_LIMIT],
  [F.Describe, SMALL_MESSAGE_LIMIT],
  [F.Execute, SMALL_MESSAGE_LIMIT],
  [F.Flush, SMALL_MESSAGE_LIMIT],
  [F.Sync, SMALL_MESSAGE_LIMIT],
  [F.CopyDone, SMALL_MESSAGE_LIMIT],
  [F.CopyFail, SMALL_MESSAGE_LIMIT],
]);

/** While the client authenticates: its answers, or Terminate (auth.c recv_password_packet). */
const LOGIN_BOUNDS: ReadonlyMap<number, number> = new Map([
  [F.Password, AUTH_MESSAGE_LIMIT],
  [F.Terminate, SMALL_MESSAGE_LIMIT],
]);

/** disable_pqexec: the same without Query. */
const EXTENDED_ONLY_BOUNDS: ReadonlyMap<number, number> = new Map([...FRONTEND_BOUNDS].filter(([type]) => type !== F.Query));

/** One FrameLimits per max_packet_size, with and without Query. */
const frontendCache = new Map<number, FrameLimits>();
const extendedOnlyCache = new Map<number, FrameLimits>();
const loginCache = new Map<number, FrameLimits>();

/** PostgreSQL's text for a type no client sends once logged in, with the type as a character too. */
function invalidFrontendType(type: number): string {
  return `invalid frontend message type ${type} (${showType(type)})`;
}

function invalidLoginType(type: number): string {
  return `expected password response, got message type ${type} (${showType(type)})`;
}

/**
 * Bounds for a logged-in client's messages under max_packet_size (one object per value); with
 * `simpleQuery` false (disable_pqexec), Query is refused at its header like an unknown type.
 */
export function frontendLimits(maxPacketSize: number, simpleQuery = true): FrameLimits {
  const cache = simpleQuery ? frontendCache : extendedOnlyCache;
  let limits = cache.get(maxPacketSize);
  if (limits === undefined) {
    const bounds = simpleQuery ? FRONTEND_BOUNDS : EXTENDED_ONLY_BOUNDS;
    limits = new FrameLimits(bounds, { name: 'max_packet_size', value: maxPacketSize }, invalidFrontendType);
    cache.set(maxPacketSize, limits);
  }
  return limits;
}

/** Bounds for a client's messages between its StartupMessage and the end of authentication. */
export function loginLimits(maxPacketSize: number): FrameLimits {
  let limits = loginCache.get(maxPacketSize);
  if (limits === undefined) {
    limits = new FrameLimits(LOGIN_BOUNDS, { name: 'max_packet_size', value: maxPacketSize }, invalidLoginType);
    loginCache.set(maxPacketSize, limits);
  }
  return limits;
}

/**
 * Every type up to `max` bytes (`name` says whose bound it is): a server's messages, which pgmux
 * reads but does not police by type.
 */
export function anyTypeLimits(max: number, name: string): FrameLimits {
  const all = new Map<number, number>();
  for (let t = 0; t < 256; t++) all.set(t, Number.MAX_SAFE_INTEGER);
  return new FrameLimits(all, { name, value: max }, showType);
}

/** Bounds for a chosen set of types (the admin console's), each up to `max`. */
export function someTypesLimits(types: readonly number[], max: number, unknownType: (type: number) => string): FrameLimits {
  return new FrameLimits(new Map(types.map((t) => [t, max])), null, unknownType);
}
