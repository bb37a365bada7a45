// The admin console's command reader, table-style: each row is a query as an operator or a
// script types it and what PgBouncer 1.18's regexes (src/admin.c) make of it. The parity spec
// checks the same behaviour end to end against the real binary.

import { parseCommand, type ParsedCommand } from '../../lib/admin/parse';

const cases: [what: string, query: string, expected: ParsedCommand][] = [
  /** A bare verb; case does not matter (matched later, case-insensitively). */
  ['a bare verb', 'SHOW', { kind: 'command', verb: 'SHOW', arg: '' }],
  ['verb and argument', 'show pools', { kind: 'command', verb: 'show', arg: 'pools' }],
  /** psql sends the trailing semicolon and scripts add blanks and newlines. */
  ['blanks, newline and a semicolon', '  Show\n\tVersion ;  ', { kind: 'command', verb: 'Show', arg: 'Version' }],
  /** "…" quotes a word and "" inside stands for one quote (PgBouncer's copy_arg). */
  ['a quoted argument', 'PAUSE "my""db"', { kind: 'command', verb: 'PAUSE', arg: 'my"db' }],
  ['a quoted verb', '"SHOW" "VERSION"', { kind: 'command', verb: 'SHOW', arg: 'VERSION' }],
  /** Would catch a reader that splits two commands instead of refusing the query. */
  ['two commands', 'SHOW STATS; SHOW VERSION', { kind: 'invalid' }],
  ['three words', 'SHUTDOWN WAIT FOR', { kind: 'invalid' }],
  ['punctuation in a bare word', 'KILL my-db', { kind: 'invalid' }],
  ['an empty query', '', { kind: 'invalid' }],
  /** PgBouncer copies into char cmd[16] and arg[64]: longer words are "bad arguments". */
  ['a 16-byte verb', 'abcdefghijklmnop', { kind: 'bad-arguments' }],
  ['a 15-byte verb', 'abcdefghijklmno', { kind: 'command', verb: 'abcdefghijklmno', arg: '' }],
  ['a 64-byte argument', `PAUSE ${'d'.repeat(64)}`, { kind: 'bad-arguments' }],
  ['a 63-byte argument', `PAUSE ${'d'.repeat(63)}`, { kind: 'command', verb: 'PAUSE', arg: 'd'.repeat(63) }],
  /** SET takes "=" or TO, a bare word or a '…' string with '' for a quote. */
  ['SET with =', 'SET default_pool_size = 7', { kind: 'set', key: 'default_pool_size', value: '7' }],
  ['SET with TO and ;', 'set default_pool_size to 7;', { kind: 'set', key: 'default_pool_size', value: '7' }],
  ['SET of a string', "SET server_reset_query = 'DISCARD ALL; SELECT ''x'''", { kind: 'set', key: 'server_reset_query', value: "DISCARD ALL; SELECT 'x'" }],
  ['SET of a path (not a word)', 'SET unix_socket_dir = /tmp', { kind: 'invalid' }],
];

describe('admin console command reader (PgBouncer 1.18 grammar)', () => {
  it.each(cases)('%s: %j', (_what, query, expected) => {
    expect(parseCommand(query)).toEqual(expected);
  });
});
