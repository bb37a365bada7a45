// Owns reading below the stream: a libuv stream handle (TCPWrap, PipeWrap) reads into a buffer
// given once (useUserBuffer) and node calls the handle's onread, here one function for every
// such handle in the process, which tells the handle's reader how many bytes landed or how the
// reading ended. node's own onStreamRead (and the socket timer it touches per read) is not on
// that path: it is shared with every net.Socket in the process, and once the HTTP listener's
// sockets run through it too it deoptimises (issue 13). Plain clients (lib/client/client-socket)
// and plain server connections (lib/server/server-connection) read this way.

import { systemError } from './direct-write';

/** Who hears a handle's reads. */
export interface HandleReader {
  /**
   * `length` bytes landed at the start of the handle's read buffer. Returns the buffer the next
   * read goes into when it must change (the bytes of this one are still referenced), else undefined.
   */
  received(length: number): Buffer | undefined;
  /** The peer's FIN (`err` null: libuv stopped reading), or a read error. */
  readEnded(err: NodeJS.ErrnoException | null): void;
}

const READER = Symbol('pgmux.handleReader');

/** The part of a libuv stream handle read here. */
export interface ReadHandle {
  /** Called by node for each read (StreamBase's onread accessor); what it returns becomes the next read buffer. */
  onread: (this: ReadHandle) => Buffer | undefined;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Buffer): void;
  /** net.Socket's own flag of whether the handle reads: kept true to what this module did, for a net.Socket still on the handle. */
  reading?: boolean;
  [READER]?: HandleReader;
}

interface StreamWrapBinding {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
}

interface UvBinding {
  UV_EOF: number;
}

// The bindings net.Socket itself reads through; both are on node's allow list for
// process.binding, and node >= 20 is required (package.json engines).
const internal = process as unknown as { binding(name: 'stream_wrap'): StreamWrapBinding; binding(name: 'uv'): UvBinding };
const { streamBaseState, kReadBytesOrError } = internal.binding('stream_wrap');
const { UV_EOF } = internal.binding('uv');

/** node calls this for every read of a handle read here (`this` is the handle). */
function onRead(this: ReadHandle): Buffer | undefined {
  const nread = streamBaseState[kReadBytesOrError];
  if (nread > 0) return (this[READER] as HandleReader).received(nread);
  if (nread < 0) (this[READER] as HandleReader).readEnded(nread === UV_EOF ? null : systemError(nread, 'read'));
  return undefined;
}

/** onread of a handle let go of (stopReading): nothing is read for anyone here any more. */
function ignoreRead(): undefined {
  return undefined;
}

/**
 * From now on `handle`'s reads reach `reader`. `buffer` is where they land; null when the
 * handle already reads into a buffer of the caller's (a net.Socket made with net's `onread`
 * option set it up). Reading starts with startReading.
 */
export function readBelow(handle: ReadHandle, reader: HandleReader, buffer: Buffer | null): void {
  handle[READER] = reader;
  handle.onread = onRead;
  if (buffer !== null) handle.useUserBuffer(buffer);
}

/** Starts (or resumes) reading: 0, or a system error (the caller fails the connection with it). */
export function startReading(handle: ReadHandle): NodeJS.ErrnoException | null {
  handle.reading = true;
  const err = handle.readStart();
  return err === 0 ? null : systemError(err, 'read');
}

/** Pauses reading (a slow peer on the other side, a handle given away). */
export function stopReading(handle: ReadHandle): void {
  handle.reading = false;
  handle.readStop();
}

/** `handle` is given away: its reads, if any still come in this process, are ignored. */
export function letGo(handle: ReadHandle): void {
  stopReading(handle);
  // onread takes only a function (node aborts on anything else): one that ignores the read.
  handle.onread = ignoreRead;
  handle[READER] = undefined;
}
