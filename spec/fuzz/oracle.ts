// Owns what the fuzzer expects of each case, from PostgreSQL's own rules written out here again,
// independently of lib/ (postgres.c SocketBackend and pq_getmessage for message types and
// lengths, ProcessStartupPacket for the startup packet, recv_password_packet for the login):
//
//   fatal   the bytes are garbage, and decidably so from what was sent (a type no client sends,
//           a length PostgreSQL refuses, an opening that cannot be a startup packet): a FATAL
//           ErrorResponse with one of `codes` and a close, within one second of the last byte;
//   answer  something is due (a challenge, a result, 'N' to SSLRequest, a refusal, the close
//           after a cancel request or Terminate): any byte back, or a close, within five seconds;
//   open    nothing is due yet (a message not complete, a request queued for a server).
//
// Every case then ends with FIN, which must close the connection within five seconds.

export type Verdict =
  | { readonly kind: 'fatal'; readonly codes: readonly string[] | null; readonly why: string }
  | { readonly kind: 'answer'; readonly why: string }
  | { readonly kind: 'open'; readonly why: string };

const fatal = (why: string, codes: readonly string[] | null = ['08P01']): Verdict => ({ kind: 'fatal', codes, why });
const answer = (why: string): Verdict => ({ kind: 'answer', why });
const open = (why: string): Verdict => ({ kind: 'open', why });

/** PostgreSQL 15: PQ_SMALL_MESSAGE_LIMIT, PQ_LARGE_MESSAGE_LIMIT, PG_MAX_AUTH_TOKEN_LENGTH, MAX_STARTUP_PACKET_LENGTH. */
export const SMALL = 10000;
export const LARGE = 0x3fffffff - 1;
export const AUTH = 65535;
export const STARTUP_MAX = 10000;

const c = (ch: string): number => ch.charCodeAt(0);

/** What a logged-in client may send (postgres.c SocketBackend) and how long each may be. */
export const FRONTEND: ReadonlyMap<number, number> = new Map([
  ...['Q', 'F', 'P', 'B', 'd'].map((t) => [c(t), LARGE] as const),
  ...['X', 'C', 'D', 'E', 'H', 'S', 'c', 'f'].map((t) => [c(t), SMALL] as const),
]);

/** While authenticating: the answer, or Terminate. */
export const LOGIN: ReadonlyMap<number, number> = new Map([
  [c('p'), AUTH],
  [c('X'), SMALL],
]);

/** The admin console: Query (a command line, at most 64 KiB) and Terminate. */
export const CONSOLE: ReadonlyMap<number, number> = new Map([
  [c('Q'), 65536],
  [c('X'), SMALL],
]);

/** Messages after which PostgreSQL owes a reply (or, Terminate, a close). Not Flush: with nothing pending it sends nothing. */
const PROMPTS = new Set(['Q', 'S', 'F', 'X'].map(c));

type Frame = { kind: 'bad'; at: number; why: string } | { kind: 'partial' } | { kind: 'whole'; type: number; end: number };

/**
 * The frame at bytes[pos]: refused as soon as the bytes so far decide it (type first, then the
 * length's high bytes), incomplete, or whole.
 */
function frameAt(bytes: Buffer, pos: number, bounds: ReadonlyMap<number, number>): Frame {
  const type = bytes[pos]!;
  const bound = bounds.get(type);
  if (bound === undefined) return { kind: 'bad', at: pos, why: `type ${type}` };
  const have = Math.min(bytes.length - pos - 1, 4);
  let least = 0;
  for (let i = 0; i < 4; i++) least = least * 256 + (i < have ? bytes[pos + 1 + i]! : 0);
  if (least > bound) return { kind: 'bad', at: pos, why: `type ${String.fromCharCode(type)} length >= ${least} > ${bound}` };
  if (have < 4) return { kind: 'partial' };
  const length = bytes.readInt32BE(pos + 1);
  if (length < 4) return { kind: 'bad', at: pos, why: `length ${length}` };
  if (bytes.length - pos < length + 1) return { kind: 'partial' };
  return { kind: 'whole', type, end: pos + 1 + length };
}

/**
 * Typed messages after login (`bounds`: FRONTEND or CONSOLE). `replies`: whether PostgreSQL (or
 * the console) answers here; false when the client waits in a queue for a server, where only
 * garbage is answered. `checkedUpTo`: bytes pgmux reads of a queued client (pkt_buf); garbage
 * past them is not seen before a server is free.
 */
export function sessionVerdict(bytes: Buffer, bounds: ReadonlyMap<number, number>, replies: boolean, checkedUpTo = Infinity): Verdict {
  let pos = 0;
  let due = false;
  while (pos < bytes.length) {
    const f = frameAt(bytes, pos, bounds);
    if (f.kind === 'bad') {
      if (f.at >= checkedUpTo) return open('garbage past what a queued client has read');
      return fatal(`bad header at ${f.at}: ${f.why}`);
    }
    if (f.kind === 'partial') return due ? answer('a reply is due before the partial message') : open('a message not complete');
    // A queued client's Terminate alone in a read closes it; behind it the rest stays queued.
    if (!replies && pos === 0 && f.type === c('X')) return open('Terminate first, while queued');
    if (replies && PROMPTS.has(f.type)) due = true;
    // Terminate: pgmux closes there; what follows is not read.
    if (f.type === c('X') && replies) return answer('Terminate');
    pos = f.end;
  }
  return due ? answer('a reply is due') : open('nothing is due');
}

/** After the server's first challenge: the client's answer, which is always replied to when whole. */
export function authVerdict(bytes: Buffer): Verdict {
  if (bytes.length === 0) return open('nothing sent');
  const f = frameAt(bytes, 0, LOGIN);
  if (f.kind === 'bad') return fatal(`bad header during login: ${f.why}`);
  if (f.kind === 'partial') return open('the answer is not complete');
  return answer('a whole answer is replied to');
}

const SSL = 80877103;
const GSSENC = 80877104;
const CANCEL = 80877102;

/** The request codes as bytes, and the one length each has. */
const REQUESTS: readonly [number[], number][] = [
  [be(SSL), 8],
  [be(GSSENC), 8],
  [be(CANCEL), 16],
];

function be(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/**
 * The bytes a client opens with (before any challenge), packet by packet: SSLRequest and
 * GSSENCRequest are answered and reading goes on; a CancelRequest closes; a StartupMessage is
 * answered (a challenge or a refusal) and what follows it is read as the login's answer.
 */
export function startupVerdict(bytes: Buffer): Verdict {
  let pos = 0;
  let answered = false;
  const undecided = (why: string): Verdict => (answered ? answer(`answered before: ${why}`) : open(why));
  while (pos < bytes.length) {
    const have = bytes.length - pos;
    if (bytes[pos] !== 0) return fatal(`first byte ${bytes[pos]} at ${pos}`);
    const n = Math.min(have, 4);
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 4; i++) {
      lo = lo * 256 + (i < n ? bytes[pos + i]! : 0);
      hi = hi * 256 + (i < n ? bytes[pos + i]! : 0xff);
    }
    if (lo > STARTUP_MAX || hi < 8) return fatal(`startup length ${lo}..${hi}`);
    if (have < 5) return undecided('a startup length not complete');
    const length = lo;
    const codeHave = Math.min(have - 4, 4);
    const request = REQUESTS.find(([code]) => code.slice(0, codeHave).every((b, i) => bytes[pos + 4 + i] === b));
    if (request !== undefined) {
      if (codeHave === 4 && length !== request[1]) return fatal(`request of length ${length}`);
      if (have < length) return undecided('a request not complete');
      // A cancel request is served, then the connection is closed.
      if (request[1] === 16) return answer('cancel request');
      answered = true;
      pos += length;
      continue;
    }
    // Not a request: a protocol version, which is not 3 (PostgreSQL's 0A000 once all four bytes are in).
    if (bytes[pos + 4] !== 0 || (codeHave > 1 && bytes[pos + 5] !== 3)) return fatal('protocol version other than 3', ['0A000', '08P01']);
    // Protocol 3: name/value pairs, then the terminator exactly as the last byte.
    const seen = Math.min(have, length);
    let off = 8;
    let layout: 'ok' | 'bad' | 'more' = 'more';
    while (off < seen) {
      if (bytes[pos + off] === 0) {
        layout = off === length - 1 ? 'ok' : 'bad';
        break;
      }
      const nameEnd = bytes.indexOf(0, pos + off);
      if (nameEnd < 0 || nameEnd >= pos + seen) break;
      const valueEnd = bytes.indexOf(0, nameEnd + 1);
      if (valueEnd < 0 || valueEnd >= pos + seen) break;
      off = valueEnd + 1 - pos;
    }
    if (layout === 'bad') return fatal('parameters end before the packet');
    if (have < length) return undecided('a startup packet not complete');
    if (layout !== 'ok') return fatal('startup packet layout');
    // A StartupMessage: answered (challenge or refusal). What follows is the login's answer; garbage
    // there is refused, with whatever code the refusal that comes first has.
    const rest = authVerdict(bytes.subarray(pos + length));
    return rest.kind === 'fatal' ? fatal(`after a StartupMessage: ${rest.why}`, null) : answer('a StartupMessage');
  }
  return undecided('nothing more');
}
