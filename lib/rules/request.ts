// Owns reading a client's request the way rules need it, before it goes to a server: the
// statements of a batch an unlinked client sent (simple Query texts, Parse texts, the named
// statements its Binds use), whether the batch is one whole request pgmux may answer itself
// (through its last Sync, nothing after), and that request's cache key part; and checking that
// a server's answer is one pgmux may keep (only result frames, ending ReadyForQuery 'I').

import { BackendCode, FrontendCode, TxStatus } from '../protocol/codes';

/** One statement of a batch: a simple Query, or a Parse, or a Bind of a statement parsed before. */
export interface BatchStatement {
  readonly type: 'query' | 'parse' | 'bind';
  readonly text: string;
}

export interface Batch {
  readonly statements: readonly BatchStatement[];
  /**
   * The batch is exactly one request pgmux may answer whole: one Query, or one extended batch
   * ending in its only Sync; every message complete, nothing after it.
   */
  readonly whole: boolean;
  /** The request part of the cache key (protocol, messages, texts, parameter bytes), or null when its answer must not be cached. */
  readonly cacheKey: string | null;
}

/** How a Bind's named statement reads as SQL, from the client's prepared statements (undefined: unknown). */
export interface StatementTexts {
  statementText(name: string): string | undefined;
}

const NO_STATEMENTS: readonly BatchStatement[] = Object.freeze([]);
const EMPTY: Batch = Object.freeze({ statements: NO_STATEMENTS, whole: false, cacheKey: null });

/**
 * Reads the complete messages of `buf`. Only a batch of one request gets a cache key: a Query, or
 * [Parse of the unnamed statement] Bind of the unnamed portal [Describe of it] Execute of all
 * rows, Sync. A named Parse is never answered from the cache (the client would think the
 * statement prepared, and its next Bind would find nothing). Without `keyed` (no result cache)
 * no key is made, nor the strings it would be made of.
 */
export function readBatch(buf: Buffer, names: StatementTexts, keyed = true): Batch {
  let pos = 0;
  // Made with its first statement: the usual batch has one, and an array grown by push() from
  // empty takes room for 16 (this runs for every request a client with rules sends).
  let statements: BatchStatement[] | null = null;
  let queries = 0;
  let syncs = 0;
  let other = 0;
  let parseBody: string | null = null;
  let bindText: string | null = null;
  let bindBody: string | null = null;
  let describe = false;
  let execute = false;
  /** The Execute's row limit (0: all rows), part of the key: asyncpg's fetchval() asks for 1. */
  let limit = 0;
  let cacheable = true;
  let afterSync = false;
  /** The last message read was a Query or a Sync: the request ends there. */
  let lastEnd = false;
  while (pos < buf.length) {
    if (pos + 5 > buf.length) return { statements: statements ?? NO_STATEMENTS, whole: false, cacheKey: null };
    const type = buf[pos];
    const len = buf.readInt32BE(pos + 1);
    const end = pos + 1 + len;
    if (len < 4 || end > buf.length) return { statements: statements ?? NO_STATEMENTS, whole: false, cacheKey: null };
    const body = pos + 5;
    if (afterSync) cacheable = false;
    switch (type) {
      case FrontendCode.Query: {
        queries++;
        const st: BatchStatement = { type: 'query', text: cstring(buf, body, end) };
        if (statements === null) statements = [st];
        else statements.push(st);
        if (queries + syncs > 1 || other > 0) cacheable = false;
        afterSync = true;
        break;
      }
      case FrontendCode.Parse: {
        const nameEnd = nul(buf, body, end);
        const text = cstring(buf, nameEnd + 1, end);
        const st: BatchStatement = { type: 'parse', text };
        if (statements === null) statements = [st];
        else statements.push(st);
        if (nameEnd !== body || parseBody !== null) cacheable = false;
        parseBody = keyed ? buf.toString('latin1', nameEnd + 1, end) : '';
        other++;
        break;
      }
      case FrontendCode.Bind: {
        const portalEnd = nul(buf, body, end);
        const nameEnd = nul(buf, portalEnd + 1, end);
        const name = buf.toString('utf8', portalEnd + 1, nameEnd);
        if (name !== '') {
          const text = names.statementText(name);
          if (text === undefined) cacheable = false;
          else {
            const st: BatchStatement = { type: 'bind', text };
            if (statements === null) statements = [st];
            else statements.push(st);
          }
          bindText = text ?? null;
        } else bindText = parseBody === null ? null : '';
        if (portalEnd !== body || bindBody !== null || bindText === null) cacheable = false;
        bindBody = keyed ? buf.toString('latin1', nameEnd + 1, end) : '';
        other++;
        break;
      }
      case FrontendCode.Describe:
        // Only the unnamed portal: a statement's Describe answers ParameterDescription too.
        if (buf[body] !== 0x50 || buf[body + 1] !== 0 || describe || bindBody === null) cacheable = false;
        describe = true;
        other++;
        break;
      case FrontendCode.Execute:
        // The unnamed portal, once. A row limit is part of the key: the same request gets the
        // same rows and the same PortalSuspended (Sync then closes the portal, nothing stays open).
        if (buf[body] !== 0 || end - body < 5 || execute || bindBody === null) cacheable = false;
        else limit = buf.readInt32BE(body + 1);
        execute = true;
        other++;
        break;
      case FrontendCode.Sync:
        syncs++;
        afterSync = true;
        break;
      default:
        other++;
        cacheable = false;
    }
    lastEnd = type === FrontendCode.Query || type === FrontendCode.Sync;
    pos = end;
  }
  const whole = queries + syncs === 1 && lastEnd && (queries === 0 || other === 0);
  if (statements === null) return whole ? { statements: NO_STATEMENTS, whole, cacheKey: null } : EMPTY;
  if (!whole || !cacheable || !keyed) return { statements, whole, cacheKey: null };
  if (queries === 1) return { statements, whole, cacheKey: `Q\u0000${statements[0].text}` };
  if (!execute) return { statements, whole, cacheKey: null };
  // The Parse's body (text and parameter types) or the named statement's text, then the Bind's
  // parameters and result formats: the same bytes in, the same bytes out.
  const head = parseBody !== null ? `P${parseBody}` : `N${bindText ?? ''}`;
  return { statements, whole, cacheKey: `E${describe ? 'D' : '-'}${limit === 0 ? '' : limit}\u0000${head}\u0000${bindBody ?? ''}` };
}

function nul(buf: Buffer, start: number, end: number): number {
  const i = buf.indexOf(0, start);
  return i < 0 || i >= end ? end : i;
}

function cstring(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, nul(buf, start, end));
}

/** Frames a kept answer may hold: results only (no error, notice, parameter change, COPY or notification). */
const RESULT_FRAME = new Uint8Array(256);
for (const t of [
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.RowDescription,
  BackendCode.NoData,
  BackendCode.DataRow,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  // A row limit reached (asyncpg's fetchval asks for 1 row); the limit is in the cache key.
  BackendCode.PortalSuspended,
]) RESULT_FRAME[t] = 1;

/** Whether `answer` is whole result frames ending in its only ReadyForQuery, with status 'I'. */
export function keepableAnswer(answer: Buffer): boolean {
  let pos = 0;
  while (pos + 5 <= answer.length) {
    const type = answer[pos];
    const end = pos + 1 + answer.readInt32BE(pos + 1);
    if (end > answer.length) return false;
    if (type === BackendCode.ReadyForQuery) return end === answer.length && answer[pos + 5] === TxStatus.Idle;
    if (RESULT_FRAME[type] !== 1) return false;
    pos = end;
  }
  return false;
}
