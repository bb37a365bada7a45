// Specs for lib/auth/userlist: PgBouncer's auth_file format.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUserlist, parseUserlist } from '../../lib/auth/userlist';

const parse = (text: string): Map<string, string> => parseUserlist(text, 'userlist.txt');

describe('parseUserlist', () => {
  it('reads one "user" "secret" pair per line', () => {
    const users = parse('"alice" "secret"\n"bob" "md5cdb47bd1b87d1c1fb93d8d0f1b7ff0e0"\n');
    expect([...users]).toEqual([
      ['alice', 'secret'],
      ['bob', 'md5cdb47bd1b87d1c1fb93d8d0f1b7ff0e0'],
    ]);
  });

  it('unescapes "" inside a field to one double quote', () => {
    const users = parse('"we""ird" "pa""ss""" \n"""" "x"');
    expect(users.get('we"ird')).toBe('pa"ss"');
    expect(users.get('"')).toBe('x');
  });

  it('keeps spaces, semicolons, hashes and SCRAM punctuation inside quotes', () => {
    const scram = 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy';
    const users = parse(`"my user" "a b;c#d"\n"carol" "${scram}"`);
    expect(users.get('my user')).toBe('a b;c#d');
    expect(users.get('carol')).toBe(scram);
  });

  it('skips blank lines, indentation and ; or # comment lines', () => {
    const text = ['; PgBouncer comment', '# shell-style comment', '', '   ', '\t"alice" "a"', '  ; indented comment', '"bob" "b"'].join('\n');
    expect([...parse(text)]).toEqual([
      ['alice', 'a'],
      ['bob', 'b'],
    ]);
  });

  it('ignores anything after the second field, as PgBouncer does', () => {
    const users = parse('"alice" "secret" "extra" column\n"bob" "b"   ; trailing');
    expect(users.get('alice')).toBe('secret');
    expect(users.get('bob')).toBe('b');
  });

  it('accepts CRLF line endings and a missing final newline', () => {
    expect([...parse('"alice" "a"\r\n"bob" "b"')]).toEqual([
      ['alice', 'a'],
      ['bob', 'b'],
    ]);
  });

  it('lets a later line for the same user win', () => {
    expect(parse('"alice" "old"\n"alice" "new"').get('alice')).toBe('new');
  });

  it('keeps an empty password (it can never log in; that is decided later)', () => {
    expect(parse('"alice" ""').get('alice')).toBe('');
  });

  it('reads UTF-8 names and passwords', () => {
    expect(parse('"zoë" "pässwörd"').get('zoë')).toBe('pässwörd');
  });

  it.each([
    ['alice "secret"', 'userlist.txt:2: line does not start with a double-quoted user name'],
    ['"alice secret', 'userlist.txt:2: unterminated quote in the user name'],
    ['"alice"', 'userlist.txt:2: no password field for user "alice"'],
    ['"alice" "secret', 'userlist.txt:2: unterminated quote in the password of user "alice"'],
  ])('rejects %j with file:line', (bad, message) => {
    expect(() => parse(`"ok" "fine"\n${bad}\n"never" "reached"`)).toThrow(message);
  });
});

describe('loadUserlist', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgmux-userlist-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and parses the file, naming it in errors', () => {
    const good = join(dir, 'good.txt');
    writeFileSync(good, '"alice" "secret"\n');
    expect(loadUserlist(good).get('alice')).toBe('secret');
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, '\n\nalice secret\n');
    expect(() => loadUserlist(bad)).toThrow(`${bad}:3: `);
  });

  it('fails with the path when the file is missing', () => {
    expect(() => loadUserlist(join(dir, 'absent.txt'))).toThrow(/ENOENT.*absent\.txt/);
  });
});
