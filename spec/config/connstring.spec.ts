// Specs for PgBouncer's connect-string grammar on [databases] and [users] lines.

import { parseConnString } from '../../lib/config';
import { errorOf } from './tmp';

const parse = (s: string) => Object.fromEntries(parseConnString(s, 'f.ini:7'));

describe('parseConnString', () => {
  it('splits space-separated key=value pairs, blanks around "=" allowed', () => {
    expect(parse('host=h port=5433  dbname = app\tuser=u')).toEqual({ host: 'h', port: '5433', dbname: 'app', user: 'u' });
    expect(parse('')).toEqual({});
    expect(parse('   ')).toEqual({});
  });

  it("reads single-quoted values with '' for a quote and no backslash escapes", () => {
    expect(parse("password='it''s;#secret'")).toEqual({ password: "it's;#secret" });
    expect(parse("connect_query='SET x = 1' host=h")).toEqual({ connect_query: 'SET x = 1', host: 'h' });
    expect(parse("password='a\\' user=u")).toEqual({ password: 'a\\', user: 'u' });
    expect(parse("password=it's")).toEqual({ password: "it's" });
  });

  it('keeps the last of a repeated key, as PgBouncer does', () => {
    expect(parse('host=x host=y')).toEqual({ host: 'y' });
  });

  it('keeps keys case-sensitive', () => {
    expect(parse('Host=x')).toEqual({ Host: 'x' });
  });

  it('refuses malformed strings at the given source', () => {
    expect(errorOf(() => parse('host'))).toBe(
      'ConfigError: f.ini:7: syntax error in connection string: "host" is not followed by "="; write key=value pairs separated by spaces',
    );
    expect(errorOf(() => parse('=x'))).toMatch(/^ConfigError: f.ini:7: syntax error in connection string: "=" without a key name/);
    expect(errorOf(() => parse("password='open"))).toBe(
      "ConfigError: f.ini:7: syntax error in connection string: the quoted value of password has no closing quote ('' is a literal quote)",
    );
    expect(errorOf(() => parse("password='a'b"))).toBe(
      'ConfigError: f.ini:7: syntax error in connection string: put a space after the closing quote of password',
    );
  });

  /** PgBouncer refuses empty values ("disallow empty values" in its loader), quoted or not. */
  it('refuses empty values', () => {
    expect(errorOf(() => parse('host='))).toBe(
      'ConfigError: f.ini:7: syntax error in connection string: host has an empty value; remove host= or give it a value',
    );
    expect(errorOf(() => parse("host='' port=1"))).toMatch(/host has an empty value/);
  });
});
