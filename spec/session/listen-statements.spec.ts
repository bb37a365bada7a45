// The recognisers behind pgmux's own LISTEN answers (lib/session/listen-statements,
// listen-extended), table-style: which texts pgmux answers, which it only watches, and which go
// to a server untouched. Frames are built with the specs' own byte builder.

import { firstKeyword, Keyword, listenScript, type KeywordCode } from '../../lib/session/listen-statements';
import { extendedListenBatch } from '../../lib/session/listen-extended';
import { msg } from '../support/messages';

const Q = 0x51;
const P = 0x50;

function query(sql: string): Buffer {
  return msg.query(sql);
}

describe('firstKeyword (bytes of a Query or Parse, nothing decoded)', () => {
  const cases: [string, KeywordCode][] = [
    ['LISTEN ch', Keyword.Listen],
    ['  listen ch', Keyword.Listen],
    ['/* a /* nested */ comment */ -- and a line\n Unlisten *', Keyword.Unlisten],
    ['SELECT 1', Keyword.Select],
    ['discard all', Keyword.Discard],
    ['COMMIT', Keyword.Commit],
    ['end', Keyword.Commit],
    ['ROLLBACK TO SAVEPOINT s', Keyword.Rollback],
    ['abort', Keyword.Rollback],
    ["PREPARE TRANSACTION 'x'", Keyword.Rollback],
    // PREPARE of a statement does not end a transaction.
    ['PREPARE p AS SELECT 1', Keyword.Other],
    ['LISTENER', Keyword.Other],
    ['listen_here(1)', Keyword.Other],
    ['INSERT INTO t VALUES (1)', Keyword.Other],
    ['', Keyword.Other],
  ];
  it.each(cases)('%j -> %i', (sql, want) => {
    const frame = query(sql);
    expect(firstKeyword(Q, frame, 0, frame.length)).toBe(want);
  });

  it('reads a Parse past its statement name', () => {
    const frame = msg.parse('LISTEN x', 'stmt1');
    expect(firstKeyword(P, frame, 0, frame.length)).toBe(Keyword.Listen);
  });
});

describe('listenScript (texts pgmux answers whole, else null)', () => {
  const cases: [string, unknown][] = [
    ['LISTEN ch', [{ kind: 'listen', channel: 'ch' }]],
    ['LISTEN Ch', [{ kind: 'listen', channel: 'ch' }]],
    ['LISTEN "Mixed ""Quoted"" Case"', [{ kind: 'listen', channel: 'Mixed "Quoted" Case' }]],
    ['LISTEN a; LISTEN b;', [{ kind: 'listen', channel: 'a' }, { kind: 'listen', channel: 'b' }]],
    ['UNLISTEN *', [{ kind: 'unlisten', channel: null }]],
    ['unlisten ch', [{ kind: 'unlisten', channel: 'ch' }]],
    [`LISTEN ${'x'.repeat(70)}`, [{ kind: 'listen', channel: 'x'.repeat(63) }]],
    ['SELECT pg_listening_channels()', [{ kind: 'channels', column: 'pg_listening_channels' }]],
    ['select * from pg_catalog.pg_listening_channels() as c', [{ kind: 'channels', column: 'c' }]],
    ['SELECT pg_listening_channels() chans', [{ kind: 'channels', column: 'chans' }]],
    ['DISCARD ALL', [{ kind: 'discard-all' }]],
    // Anything else, mixed in, or not quite these: the server's.
    ['LISTEN a; SELECT 1', null],
    ['DISCARD ALL; LISTEN a', null],
    ['DISCARD TEMP', null],
    ["LISTEN 'quoted'", null],
    ['LISTEN ""', null],
    ['LISTEN', null],
    ['SELECT count(*) FROM pg_listening_channels()', null],
    ['SELECT pg_listening_channels() WHERE true', null],
    ['', null],
  ];
  it.each(cases)('%j', (sql, want) => {
    expect(listenScript(sql)).toEqual(want);
  });
});

describe('extendedListenBatch (an idle client\'s extended-protocol LISTEN)', () => {
  const named = new Map([['s_listen', 'LISTEN ch']]);
  const never = (): boolean => false;

  it('answers unnamed Parse/Bind/Describe/Execute/Sync of a LISTEN as the server would, up to ReadyForQuery', () => {
    const chunk = Buffer.concat([msg.parse('LISTEN ch'), msg.bind('', ''), msg.describePortal(''), msg.execute(0, ''), msg.sync()]);
    const batch = extendedListenBatch(chunk, null, never);
    expect(batch?.statements).toEqual([{ kind: 'listen', channel: 'ch' }]);
    // ParseComplete, BindComplete, NoData, CommandComplete LISTEN.
    expect(batch?.bytes.toString('latin1')).toBe('1\0\0\0\x042\0\0\0\x04n\0\0\0\x04C\0\0\0\x0bLISTEN\0');
  });

  it('runs a named statement it knows, and takes a named Parse only when the client may hold it', () => {
    const run = Buffer.concat([msg.bind('', 's_listen'), msg.execute(0, ''), msg.sync()]);
    expect(extendedListenBatch(run, named, never)?.statements).toEqual([{ kind: 'listen', channel: 'ch' }]);
    const parseAndRun = Buffer.concat([msg.parse('UNLISTEN *', 's_new'), msg.bind('', 's_new'), msg.execute(0, ''), msg.sync()]);
    expect(extendedListenBatch(parseAndRun, null, never)).toBeNull();
    expect(extendedListenBatch(parseAndRun, null, () => true)).toMatchObject({ parsed: [{ name: 's_new', sql: 'UNLISTEN *' }], statements: [{ kind: 'unlisten', channel: null }] });
  });

  const refused: [string, Buffer][] = [
    ['another statement', Buffer.concat([msg.parse('SELECT 1'), msg.bind('', ''), msg.execute(0, ''), msg.sync()])],
    ['a named statement it does not know', Buffer.concat([msg.bind('', 'other'), msg.execute(0, ''), msg.sync()])],
    ['no Sync at the end', Buffer.concat([msg.parse('LISTEN ch'), msg.bind('', ''), msg.execute(0, '')])],
    ['no Execute', Buffer.concat([msg.parse('LISTEN ch'), msg.sync()])],
    ['a named portal', Buffer.concat([msg.parse('LISTEN ch'), msg.bind('p1', ''), msg.execute(0, 'p1'), msg.sync()])],
    ['a cut frame', Buffer.concat([msg.parse('LISTEN ch'), msg.sync()]).subarray(0, 8)],
  ];
  it.each(refused)('goes to a server: %s', (_what, chunk) => {
    expect(extendedListenBatch(chunk, named, never)).toBeNull();
  });
});
