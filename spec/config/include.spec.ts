// Specs for %include: where files are found, how sections flow through them, and the limits.

import * as path from 'node:path';
import { loadConfig, MAX_INCLUDE_DEPTH } from '../../lib/config';
import { errorOf, tempDir, type TempDir } from './tmp';

let tmp: TempDir;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

describe('%include', () => {
  it("reads a relative file from the including file's directory, nested", () => {
    const main = tmp.write('etc/main.ini', '[pgbouncer]\nlisten_port = 7000\n%include conf.d/pool.ini\n');
    tmp.write('etc/conf.d/pool.ini', 'pool_mode = transaction\n%include ../dbs.ini\n');
    tmp.write('etc/dbs.ini', '[databases]\napp = host=db1\n');
    const config = loadConfig(main);
    expect(config.settings.listen_port).toBe(7000);
    expect(config.settings.pool_mode).toBe('transaction');
    expect(config.databases.get('app')).toMatchObject({ host: 'db1', source: `${tmp.dir}/etc/dbs.ini:2` });
  });

  /** PgBouncer shares the current section with included files, in and back out. */
  it('carries the current section into the included file and back out of it', () => {
    const main = tmp.write('main.ini', '[pgbouncer]\n%include dbs.ini\nd2 = host=h2\n');
    tmp.write('dbs.ini', '[databases]\nd1 = host=h1\n');
    const config = loadConfig(main);
    expect([...config.databases.keys()]).toEqual(['d1', 'd2']);
  });

  it('accepts blanks around the directive and a tab before the name, and absolute paths', () => {
    const inc = tmp.write('abs.ini', 'listen_backlog = 9\n');
    const main = tmp.write('main.ini', `[pgbouncer]\n   %include\t${inc}   \n`);
    expect(loadConfig(main).settings.listen_backlog).toBe(9);
  });

  /** PgBouncer 1.18 opens a relative name from the current directory; configs written for it keep working. */
  it('falls back to the current directory when the file is not beside the including file', () => {
    const main = tmp.write('etc/main.ini', '[pgbouncer]\n%include extra.ini\n');
    tmp.write('run/extra.ini', 'listen_port = 7100\n');
    const cwd = process.cwd();
    process.chdir(path.join(tmp.dir, 'run'));
    try {
      expect(loadConfig(main).settings.listen_port).toBe(7100);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a missing file at the %include line, naming where it looked', () => {
    const main = tmp.write('main.ini', '[pgbouncer]\n; comment\n%include nope.ini\n');
    expect(errorOf(() => loadConfig(main))).toBe(
      `ConfigError: ${main}:3: cannot read %include file "nope.ini": no such file (looked at ${tmp.dir}/nope.ini and ${path.resolve('nope.ini')})`,
    );
  });

  it('refuses an %include without a file name and a mis-cased directive', () => {
    const a = tmp.write('a.ini', '[pgbouncer]\n%include\n');
    expect(errorOf(() => loadConfig(a))).toBe(`ConfigError: ${a}:2: syntax error: %include needs a file name after a space`);
    const b = tmp.write('b.ini', '[pgbouncer]\n%INCLUDE x.ini\n');
    expect(errorOf(() => loadConfig(b))).toBe(`ConfigError: ${b}:2: syntax error: the only directive is "%include file" (lower case)`);
  });

  it('reports errors inside an included file at that file and line', () => {
    const main = tmp.write('main.ini', '[pgbouncer]\n%include bad.ini\n');
    const bad = tmp.write('bad.ini', '\nlisten_port = x\n');
    expect(errorOf(() => loadConfig(main))).toMatch(new RegExp(`^ConfigError: ${bad}:2: listen_port = "x" is not valid`));
  });

  /** Same limit as PgBouncer (libusual MAX_INCLUDE): ten nested files load, the eleventh does not. */
  it(`allows ${MAX_INCLUDE_DEPTH} nested includes and refuses one more`, () => {
    const chain = (n: number): string => {
      for (let i = 1; i <= n; i++) {
        tmp.write(`chain${n}/f${i}.ini`, i < n ? `%include f${i + 1}.ini\n` : 'listen_backlog = 44\n');
      }
      return tmp.write(`chain${n}/main.ini`, '[pgbouncer]\n%include f1.ini\n');
    };
    expect(loadConfig(chain(MAX_INCLUDE_DEPTH)).settings.listen_backlog).toBe(44);
    const deep = chain(MAX_INCLUDE_DEPTH + 1);
    expect(errorOf(() => loadConfig(deep))).toBe(
      `ConfigError: ${path.dirname(deep)}/f${MAX_INCLUDE_DEPTH}.ini:1: %include nested more than 10 deep; look for a file that includes itself`,
    );
  });

  it('stops a file that includes itself', () => {
    const self = tmp.write('self.ini', '[pgbouncer]\n%include self.ini\n');
    expect(errorOf(() => loadConfig(self))).toBe(
      `ConfigError: ${self}:2: %include nested more than 10 deep; look for a file that includes itself`,
    );
  });
});
