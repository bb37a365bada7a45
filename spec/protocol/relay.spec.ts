// Specs for the forwarding path (relay.ts) and the whole-frame splitter (framer.ts): every input
// is fed split at every offset, because TCP may cut a stream anywhere.

import { Action, headerCheck, Relay, type RelayHandler } from '../../lib/protocol/relay';
import { Framer } from '../../lib/protocol/framer';
import { StartupCode } from '../../lib/protocol/codes';
import { anyTypeLimits, frontendLimits } from '../../lib/protocol/limits';

/** Every type, up to 2 MiB: what these specs feed is not about limits. */
const ANY = anyTypeLimits(1 << 21, 'the test limit');

/** An independent frame builder: type byte, int32 length, body. */
function frame(type: string, body: Buffer | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(5 + b.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + b.length, 1);
  b.copy(out, 5);
  return out;
}

/** A handler that inspects the listed types, swallows others listed, and records everything. */
class Recorder implements RelayHandler {
  out: Buffer[] = [];
  seen: string[] = [];
  inspected: string[] = [];
  notified = 0;
  stopAfterNotify = false;
  constructor(
    private readonly inspect: string,
    private readonly swallow: string,
    private readonly swallowInspected = '',
  ) {}
  onHeader(type: number): number {
    const t = String.fromCharCode(type);
    this.seen.push(t);
    if (this.inspect.includes(t)) return Action.Inspect;
    if (this.swallow.includes(t)) return Action.Swallow;
    return Action.Forward;
  }
  onFrame(type: number, buf: Buffer, start: number, end: number): number {
    const t = String.fromCharCode(type);
    this.inspected.push(`${t}:${buf.subarray(start + 5, end).toString()}`);
    return (this.swallowInspected.includes(t) ? Action.Swallow : Action.Forward) | Action.Notify;
  }
  afterFrame(): boolean {
    this.notified++;
    return this.stopAfterNotify;
  }
  write(bytes: Buffer): void {
    this.out.push(Buffer.from(bytes));
  }
  forwarded(): Buffer {
    return Buffer.concat(this.out);
  }
}

/** Feeds `input` cut at `cut` (and at `cut2` when given). */
function feedSplit(relay: Relay, input: Buffer, cuts: number[]): void {
  let prev = 0;
  for (const c of [...cuts, input.length]) {
    const err = relay.feed(input.subarray(prev, c));
    expect(err).toBeNull();
    prev = c;
  }
}

describe('Relay', () => {
  const data = frame('D', 'row-one');
  const big = frame('D', 'x'.repeat(300));
  const ps = frame('S', 'TimeZone\0UTC\0');
  const z = frame('Z', 'I');
  const c = frame('C', 'SELECT 1\0');
  const stream = Buffer.concat([data, ps, big, c, z]);

  /** A cut anywhere (inside headers, bodies, inspected frames) must not change what is forwarded. */
  it('forwards the same bytes and inspects the same frames wherever the stream is cut', () => {
    for (let i = 0; i <= stream.length; i++) {
      for (const j of [i, Math.min(stream.length, i + 3), Math.min(stream.length, i + 200)]) {
        const h = new Recorder('SZ', '');
        feedSplit(new Relay(h, ANY), stream, i === j ? [i] : [i, j]);
        expect(h.forwarded().equals(stream)).toBe(true);
        expect(h.inspected).toEqual(['S:TimeZone\0UTC\0', 'Z:I']);
        expect(h.seen.join('')).toBe('DSDCZ');
        expect(h.notified).toBe(2);
      }
    }
  });

  /** Swallowed frames (internal query results) never reach the client, wherever cut. */
  it('drops swallowed and swallow-inspected frames at any split', () => {
    const expected = Buffer.concat([data, big, z]);
    for (let i = 0; i <= stream.length; i++) {
      const h = new Recorder('SZ', 'C', 'S');
      feedSplit(new Relay(h, ANY), stream, [i]);
      expect(h.forwarded().equals(expected)).toBe(true);
    }
  });

  /** Forwarded runs are slices of the input chunk, not copies, when a chunk holds whole frames. */
  it('writes one run per chunk when nothing is swallowed', () => {
    const h = new Recorder('', '');
    new Relay(h, ANY).feed(stream);
    expect(h.out.length).toBe(1);
  });

  /** A frame larger than any chunk streams through without being assembled. */
  it('streams a large uninspected frame in pieces', () => {
    const huge = frame('D', Buffer.alloc(1 << 20, 7));
    const h = new Recorder('Z', '');
    const relay = new Relay(h, ANY);
    for (let p = 0; p < huge.length; p += 65536) relay.feed(huge.subarray(p, p + 65536));
    expect(h.forwarded().equals(huge)).toBe(true);
    expect(h.out.length).toBe(Math.ceil(huge.length / 65536));
    expect(relay.atBoundary()).toBe(true);
  });

  /** atBoundary is false while a frame is half received (release must wait for it). */
  it('reports frame boundaries', () => {
    const relay = new Relay(new Recorder('', ''), ANY);
    relay.feed(data.subarray(0, 3));
    expect(relay.atBoundary()).toBe(false);
    relay.feed(data.subarray(3, 8));
    expect(relay.atBoundary()).toBe(false);
    relay.feed(data.subarray(8));
    expect(relay.atBoundary()).toBe(true);
  });

  /** afterFrame returning true stops the rest of the chunk (Terminate, release on close). */
  it('stops reading when afterFrame asks', () => {
    const h = new Recorder('X', '', 'X');
    h.stopAfterNotify = true;
    new Relay(h, ANY).feed(Buffer.concat([data, frame('X'), c]));
    expect(h.forwarded().equals(data)).toBe(true);
    expect(h.seen.join('')).toBe('DX');
  });

  /** A declared length below 4 or above the limit is refused with a reason, at any split. */
  it('refuses impossible lengths with a reason', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    const relay = new Relay(new Recorder('', ''), frontendLimits(0x7fffffff));
    expect(relay.feed(bad)?.reason).toMatch(/invalid message length 2 for message type 'Q'/);
    const tooBig = Buffer.from([0x51, 0, 0x10, 0, 0]);
    const r2 = new Relay(new Recorder('', ''), frontendLimits(1000));
    r2.feed(tooBig.subarray(0, 2));
    expect(r2.feed(tooBig.subarray(2))?.reason).toBe("message type 'Q' declares 1048576 bytes, more than max_packet_size (1000)");
  });
});

/**
 * PostgreSQL 15's bounds per client message type (postgres.c SocketBackend): checked on the five
 * header bytes, so a client declaring what PostgreSQL would refuse is refused before a single
 * body byte is waited for. Catches: a Query declaring 0x7FFFFFF0 bytes waited for (or allocated),
 * an unknown type held until its body arrives.
 */
describe('frontend limits on the header', () => {
  const header = (type: string, length: number): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = type.charCodeAt(0);
    b.writeInt32BE(length | 0, 1);
    return b;
  };
  /** Fed byte by byte: the refusal and the byte it came at (decided as soon as the bytes so far allow). */
  const refusal = (bytes: Buffer): { reason: string; at: number } | null => {
    const relay = new Relay(new Recorder('', ''), frontendLimits(0x7fffffff));
    for (let i = 0; i < bytes.length; i++) {
      const err = relay.feed(bytes.subarray(i, i + 1));
      if (err !== null) return { reason: err.reason, at: i };
    }
    return null;
  };

  it.each([
    ['Q', 0x7ffffff0, 1, "invalid message length at least 2130706432 for message type 'Q': PostgreSQL accepts at most 1073741822"],
    ['P', 0x40000000, 1, "invalid message length at least 1073741824 for message type 'P': PostgreSQL accepts at most 1073741822"],
    ['S', 10001, 4, "invalid message length 10001 for message type 'S': PostgreSQL accepts at most 10000"],
    ['E', 70000, 2, "invalid message length at least 65536 for message type 'E': PostgreSQL accepts at most 10000"],
    ['X', 10001, 4, "invalid message length 10001 for message type 'X': PostgreSQL accepts at most 10000"],
    ['Q', 2, 4, "invalid message length 2 for message type 'Q': the length counts itself, so it is at least 4"],
    ['p', 8, 0, "invalid frontend message type 112 ('p')"],
    ['y', 5, 0, "invalid frontend message type 121 ('y')"],
    ['\0', 5, 0, 'invalid frontend message type 0 (0x00)'],
  ])('refuses %s declaring %d at byte %d of its header: %s', (type, length, at, reason) => {
    expect(refusal(header(type, length))).toEqual({ reason, at });
  });

  it.each([
    ['Q', 1073741822],
    ['d', 1073741822],
    ['S', 4],
    ['C', 10000],
  ])('lets %s declaring %d through (PostgreSQL accepts it)', (type, length) => {
    expect(refusal(header(type, length))).toBeNull();
  });

  /** A queued client's bytes are only checked: frames of any size pass without being kept. */
  it('headerCheck refuses the first bad header behind good frames, at any split, keeping nothing', () => {
    const good = Buffer.concat([frame('Q', 'select 1\0'), frame('P', Buffer.alloc(70000)), frame('S')]);
    const input = Buffer.concat([good, header('Q', 0x7ffffff0)]);
    for (let i = 0; i <= input.length; i += 97) {
      const check = headerCheck(frontendLimits(0x7fffffff));
      expect(check.feed(input.subarray(0, i))).toBeNull();
      expect(check.feed(input.subarray(i))?.reason).toMatch(/message length (at least )?\d+ for message type 'Q'/);
    }
    const check = headerCheck(frontendLimits(0x7fffffff));
    expect(check.feed(good)).toBeNull();
    expect(check.atBoundary()).toBe(true);
  });
});

describe('Framer', () => {
  function startupPacket(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
    const out = Buffer.alloc(8 + body.length);
    out.writeInt32BE(out.length, 0);
    out.writeInt32BE(code, 4);
    body.copy(out, 8);
    return out;
  }
  const ssl = startupPacket(80877103);
  const startup = startupPacket(196608, Buffer.from('user\0app\0\0'));
  const pw = frame('p', 'secret\0');

  /** Startup packets map above 0xFF; typed frames follow once startup mode is off. */
  it('delivers startup packets then typed frames at any split', () => {
    const input = Buffer.concat([ssl, startup, pw]);
    for (let i = 0; i <= input.length; i++) {
      const got: string[] = [];
      const framer: Framer = new Framer(
        (type, buf, start, end) => {
          got.push(`${type}:${end - start}`);
          if (type === StartupCode.Startup) framer.startupMode = false;
        },
        ANY,
        true,
      );
      expect(framer.feed(input.subarray(0, i))).toBeNull();
      expect(framer.feed(input.subarray(i))).toBeNull();
      expect(got).toEqual([`${StartupCode.SSLRequest}:8`, `${StartupCode.Startup}:${startup.length}`, `${0x70}:${pw.length}`]);
    }
  });

  /** halt() keeps unread bytes for takeRemainder (pipelined bytes after login). */
  it('keeps bytes after halt', () => {
    const framer: Framer = new Framer(() => framer.halt(), ANY);
    framer.feed(Buffer.concat([pw, frame('Q', 'select 1\0')]));
    expect(framer.takeRemainder()?.equals(frame('Q', 'select 1\0'))).toBe(true);
  });

  /**
   * Bytes that cannot begin a startup packet are handed over as StartupCode.Invalid the moment
   * that is certain: a first byte other than 0, a length past 10000, a code that is neither 3.x
   * nor a request, a parameter list that ended before the declared end.
   */
  it.each([
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), 1],
    ['a length of 2^30', Buffer.from([0, 0x40, 0, 0, 0, 3, 0, 0]), 2],
    ['a length of 10001', Buffer.from([0, 0, 0x27, 0x11, 0, 3, 0, 0]), 4],
    ['a length of 7', Buffer.from([0, 0, 0, 7, 0, 3, 0, 0]), 4],
    ['protocol 2.0', Buffer.from([0, 0, 0, 20, 0, 2, 0, 0]), 6],
    ['an SSLRequest of 12 bytes', Buffer.from([0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2f]), 8],
    ['parameters ending before the declared end', Buffer.concat([Buffer.from([0, 0, 0, 40, 0, 3, 0, 0]), Buffer.from('user\0app\0\0')]), 18],
  ])('hands over %s as Invalid after %s bytes, fed one byte at a time', (_what, bytes, decidedAt) => {
    const got: [number, number][] = [];
    const framer = new Framer((type, _buf, start, end) => got.push([type, end - start]), ANY, true);
    for (let i = 0; i < bytes.length && got.length === 0; i++) framer.feed(bytes.subarray(i, i + 1));
    expect(got).toEqual([[StartupCode.Invalid, decidedAt]]);
  });
});
