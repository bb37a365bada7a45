// Owns LISTEN and UNLISTEN sent through the extended protocol by an idle client in transaction
// pooling (asyncpg's add_listener, pgJDBC): a batch of Parse/Bind/Describe/Execute/Sync that only
// runs LISTEN or UNLISTEN is answered by pgmux as the server would answer it, so the statement
// never runs on a pooled server. Named statements are known by the texts their Parses carried
// (ListenGlue remembers those of LISTEN and UNLISTEN); one parsed under a name in the batch
// itself (node-postgres' named queries) becomes the client's like any prepared statement.

import { BackendCode, FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeBind, decodeDescribe, decodeParse } from '../protocol/frontend';
import { BIND_COMPLETE, commandComplete, NO_DATA, PARSE_COMPLETE } from '../protocol/backend';
import { listenScript, type ListenStatement } from './listen-statements';

/** What pgmux answers for such a batch, and the statements it runs (in order). */
export interface ExtendedListen {
  readonly statements: readonly (ListenStatement & { kind: 'listen' | 'unlisten' })[];
  /** The answer up to the Sync's ReadyForQuery (not included: an idle client's is 'I', a linked one's comes from its server). */
  readonly bytes: Buffer;
  /** Statements the batch parsed under a name: the client holds them from now on. */
  readonly parsed: readonly { readonly name: string; readonly sql: string }[];
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
export function extendedListenBatch(chunk: Buffer, named: ReadonlyMap<string, string> | null, mayName: (name: string) => boolean): ExtendedListen | null {
  const parts: Buffer[] = [];
  const parsed: { name: string; sql: string }[] = [];
  const statements: (ListenStatement & { kind: 'listen' | 'unlisten' })[] = [];
  let unnamed: string | null = null;
  let portal: ListenStatement | null = null;
  let lastType = 0;
  const text = (name: string): string | null => (name === '' ? unnamed : (parsed.find((p) => p.name === name)?.sql ?? named?.get(name) ?? null));
  for (let pos = 0; pos < chunk.length; ) {
    if (pos + HEADER_LENGTH > chunk.length) return null;
    const type = chunk[pos];
    const end = pos + 1 + chunk.readInt32BE(pos + 1);
    if (end > chunk.length || end < pos + HEADER_LENGTH) return null;
    switch (type) {
      case FrontendCode.Parse: {
        const p = decodeParse(chunk, pos, end);
        if (p.kind !== 'parse' || lone(p.sql) === null || p.paramTypes.length > 0) return null;
        if (p.name === '') unnamed = p.sql;
        else if (mayName(p.name) && !parsed.some((q) => q.name === p.name)) parsed.push({ name: p.name, sql: p.sql });
        else return null;
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
        if (end !== chunk.length) return null;
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
  return { statements, bytes: Buffer.concat(parts), parsed };
}

/** The one LISTEN or UNLISTEN that `sql` is, else null. */
function lone(sql: string | null): ListenStatement | null {
  if (sql === null) return null;
  const s = listenScript(sql);
  return s !== null && s.length === 1 && (s[0].kind === 'listen' || s[0].kind === 'unlisten') ? s[0] : null;
}
