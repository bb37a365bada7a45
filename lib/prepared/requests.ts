// Owns what a request in a client's queue of owed responses (./link) is: its kind, by which
// server response completes it, what happens to that response, and telling from a frame's first
// bytes that it names no prepared statement (so it passes without being decoded).

import { BackendCode, FrontendCode } from '../protocol/codes';

/**
 * What a queued request is, by which response completes it. Duplicate: a client's Parse of a name
 * it holds, sent under that statement's server-side name so that the server refuses it (42P05).
 */
export const Kind = { Parse: 1, Bind: 2, DescribeStatement: 3, DescribePortal: 4, Execute: 5, Close: 6, Sync: 7, Query: 8, Duplicate: 9 } as const;
/** What happens to its response. */
export const Fate = { Forward: 0, Swallow: 1, Fake: 2 } as const;

/**
 * The queue kind of a Parse/Bind/Describe/Close that names no prepared statement (so needs no
 * rewriting), read from its first bytes; 0 when it names one or is malformed (decoded then).
 */
export function unnamedKind(type: number, buf: Buffer, start: number, end: number): number {
  const body = start + 5;
  if (body >= end) return 0;
  switch (type) {
    case FrontendCode.Parse:
      return buf[body] === 0 ? Kind.Parse : 0;
    case FrontendCode.Bind: {
      // Portal name first, then the statement name.
      const nul = buf.indexOf(0, body);
      return nul >= 0 && nul + 1 < end && buf[nul + 1] === 0 ? Kind.Bind : 0;
    }
    case FrontendCode.Describe:
      if (buf[body] === 0x50) return Kind.DescribePortal; // 'P'
      return buf[body] === 0x53 && body + 1 < end && buf[body + 1] === 0 ? Kind.DescribeStatement : 0;
    case FrontendCode.Close:
      if (buf[body] === 0x50) return Kind.Close;
      return buf[body] === 0x53 && body + 1 < end && buf[body + 1] === 0 ? Kind.Close : 0;
    default:
      return 0;
  }
}

export function completes(kind: number, type: number): boolean {
  switch (kind) {
    case Kind.Parse:
    case Kind.Duplicate:
      return type === BackendCode.ParseComplete;
    case Kind.Bind:
      return type === BackendCode.BindComplete;
    case Kind.DescribeStatement:
    case Kind.DescribePortal:
      return type === BackendCode.RowDescription || type === BackendCode.NoData;
    case Kind.Execute:
      return (
        type === BackendCode.CommandComplete || type === BackendCode.EmptyQueryResponse || type === BackendCode.PortalSuspended
      );
    case Kind.Close:
      return type === BackendCode.CloseComplete;
    default:
      return false;
  }
}
