// Specs for the forwarding path (relay.ts) and the whole-frame splitter (framer.ts): every input
// is fed split at every offset, because TCP may cut a stream anywhere.

import { Action, Relay, type RelayHandler } from '../../lib/protocol/relay';
import { Framer } from '../../lib/protocol/framer';
import { StartupCode } from '../../lib/protocol/codes';

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
        feedSplit(new Relay(h, 1 << 20), stream, i === j ? [i] : [i, j]);
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
      feedSplit(new Relay(h, 1 << 20), stream, [i]);
      expect(h.forwarded().equals(expected)).toBe(true);
    }
  });

  /** Forwarded runs are slices of the input chunk, not copies, when a chunk holds whole frames. */
  it('writes one run per chunk when nothing is swallowed', () => {
    const h = new Recorder('', '');
    new Relay(h, 1 << 20).feed(stream);
    expect(h.out.length).toBe(1);
  });

  /** A frame larger than any chunk streams through without being assembled. */
  it('streams a large uninspected frame in pieces', () => {
    const huge = frame('D', Buffer.alloc(1 << 20, 7));
    const h = new Recorder('Z', '');
    const relay = new Relay(h, 1 << 21);
    for (let p = 0; p < huge.length; p += 65536) relay.feed(huge.subarray(p, p + 65536));
    expect(h.forwarded().equals(huge)).toBe(true);
    expect(h.out.length).toBe(Math.ceil(huge.length / 65536));
    expect(relay.atBoundary()).toBe(true);
  });

  /** atBoundary is false while a frame is half received (release must wait for it). */
  it('reports frame boundaries', () => {
    const relay = new Relay(new Recorder('', ''), 1 << 20);
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
    new Relay(h, 1 << 20).feed(Buffer.concat([data, frame('X'), c]));
    expect(h.forwarded().equals(data)).toBe(true);
    expect(h.seen.join('')).toBe('DX');
  });

  /** A declared length below 4 or above the limit is refused with a reason, at any split. */
  it('refuses impossible lengths with a reason', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    const relay = new Relay(new Recorder('', ''), 1 << 20);
    expect(relay.feed(bad)?.reason).toMatch(/invalid message length 2/);
    const tooBig = Buffer.from([0x51, 0, 0x10, 0, 0]);
    const r2 = new Relay(new Recorder('', ''), 1000);
    r2.feed(tooBig.subarray(0, 2));
    expect(r2.feed(tooBig.subarray(2))?.reason).toMatch(/exceeds max_packet_size \(1000\)/);
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
        1 << 20,
        true,
      );
      expect(framer.feed(input.subarray(0, i))).toBeNull();
      expect(framer.feed(input.subarray(i))).toBeNull();
      expect(got).toEqual([`${StartupCode.SSLRequest}:8`, `${StartupCode.Startup}:${startup.length}`, `${0x70}:${pw.length}`]);
    }
  });

  /** halt() keeps unread bytes for takeRemainder (pipelined bytes after login). */
  it('keeps bytes after halt', () => {
    const framer: Framer = new Framer(() => framer.halt(), 1 << 20);
    framer.feed(Buffer.concat([pw, frame('Q', 'select 1\0')]));
    expect(framer.takeRemainder()?.equals(frame('Q', 'select 1\0'))).toBe(true);
  });

  /** Oversized startup packets are refused before buffering them. */
  it('refuses a startup packet longer than 10000 bytes', () => {
    const framer = new Framer(() => undefined, 1 << 20, true);
    const hdr = Buffer.alloc(8);
    hdr.writeInt32BE(1 << 30, 0);
    expect(framer.feed(hdr)).toMatch(/invalid startup packet length/);
  });
});
