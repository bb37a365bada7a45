// Owns LISTEN and UNLISTEN sent through the extended protocol by an idle client in transaction
// pooling (asyncpg's add_listener, pgJDBC): a batch of Parse/Bind/Describe/Execute/Sync that only
// runs LISTEN or UNLISTEN is answered by pgmux as the server would answer it, so the statement
// never runs on a pooled server. Named statements are known by the texts their Parses carried
// (ListenGlue remembers those of LISTEN and UNLISTEN).

import { BackendCode, FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeBind, decodeDescribe, decodeParse } from '../protocol/frontend';
import { BIND_COMPLETE, commandComplete, NO_DATA, PARSE_COMPLETE, READY_IDLE } from '../protocol/backend';
import { listenScript, type ListenStatement } from './listen-statements';

/** What pgmux answers for such a batch, and the statements it runs (in order). */
export interface ExtendedListen {
  readonly statements: readonly (ListenStatement & { kind: 'listen' | 'unlisten' })[];
  /** The whole answer, ReadyForQuery included. */
  readonly bytes: Buffer;
}

/** ParameterDescription with no parameters (LISTEN takes none). */
const NO_PARAMETERS = Buffer.from([BackendCode.ParameterDescription, 0, 0, 0, 6, 0, 0]);
const LISTEN = commandComplete('LISTEN');
const UNLISTEN = commandComplete('UNLISTEN');

/**
 * The batch in `chunk` when it is whole frames ending with Sync whose Executes all run a lone
 * LISTEN or UNLISTEN (of the unnamed statement parsed in it, or of a named one in `named`);
 * null for anything else, which goes to a server as usual.
 */
export function extendedListenBatch(chunk: Buffer, named: ReadonlyMap<string, string> | null): ExtendedListen | null {
  const parts: Buffer[] = [];
  const statements: (ListenStatement & { kind: 'listen' | 'unlisten' })[] = [];
  let unnamed: string | null = null;
  let portal: ListenStatement | null = null;
  let lastType = 0;
  const text = (name: string): string | null => (name === '' ? unnamed : (named?.get(name) ?? null));
  for (let pos = 0; pos < chunk.length; ) {
    if (pos + HEADER_LENGTH > chunk.length) return null;
    const type = chunk[pos];
    const end = pos + 1 + chunk.readInt32BE(pos + 1);
    if (end > chunk.length || end < pos + HEADER_LENGTH) return null;
    switch (type) {
      case FrontendCode.Parse: {
        const p = decodeParse(chunk, pos, end);
        if (p.kind !== 'parse' || p.name !== '' || lone(p.sql) === null) return null;
        unnamed = p.sql;
        parts.push(PARSE_COMPLETE);
        break;
      }
      case FrontendCode.Bind: {
        const b = decodeBind(chunk, pos, end);
        if (b.kind !== 'bind' || b.portal !== '') return null;
        portal = lone(text(b.statement));
        if (portal === null) return null;
        parts.push(BIND_COMPLETE);
        break;
      }
      case FrontendCode.Describe: {
        const d = decodeDescribe(chunk, pos, end);
        if (d.kind !== 'describe') return null;
        if (d.target === 'S') {
          if (lone(text(d.name)) === null) return null;
          parts.push(NO_PARAMETERS, NO_DATA);
        } else {
          if (d.name !== '' || portal === null) return null;
          parts.push(NO_DATA);
        }
        break;
      }
      case FrontendCode.Execute: {
        // The unnamed portal only (the Execute's own bytes: portal name, then max rows).
        if (portal === null || chunk[pos + HEADER_LENGTH] !== 0 || portal.kind === 'channels' || portal.kind === 'discard-all') return null;
        statements.push(portal);
        parts.push(portal.kind === 'listen' ? LISTEN : UNLISTEN);
        break;
      }
      case FrontendCode.Sync:
        parts.push(READY_IDLE);
        break;
      case FrontendCode.Flush:
        break;
      default:
        return null;
    }
    lastType = type;
    pos = end;
  }
  if (statements.length === 0 || lastType !== FrontendCode.Sync) return null;
  return { statements, bytes: Buffer.concat(parts) };
}

/** The one LISTEN or UNLISTEN that `sql` is, else null. */
function lone(sql: string | null): ListenStatement | null {
  if (sql === null) return null;
  const s = listenScript(sql);
  return s !== null && s.length === 1 && (s[0].kind === 'listen' || s[0].kind === 'unlisten') ? s[0] : null;
}
