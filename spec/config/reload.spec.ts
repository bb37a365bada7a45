// Specs for RELOAD: which changed settings apply now and which wait for a restart.

import { applyReload, loadConfig, reloadChanges } from '../../lib/config';
import { tempDir, type TempDir } from './tmp';

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.remove());

describe('reloadChanges', () => {
  const file = () => `${tmp.dir}/pgmux.ini`;
  const load = (text: string) => {
    tmp.write('pgmux.ini', text);
    return loadConfig(file());
  };

  it('reports nothing when only spelling changes (same value, same SHOW CONFIG text)', () => {
    const prev = load('[pgbouncer]\nlisten_port = 6432\nquery_timeout = 0\npool_mode = session\n');
    const next = load('[pgbouncer]\n; reformatted\nlisten_port = 0x1920\nquery_timeout = 0.0\npool_mode = SESSION\n');
    expect(reloadChanges(prev, next)).toEqual({ applied: [], ignored: [] });
  });

  it('applies reloadable changes and names non-reloadable ones with what to do', () => {
    const prev = load('[pgbouncer]\nlisten_port = 6432\ndefault_pool_size = 20\npidfile = a.pid\nadmin_users = a\n');
    const next = load('[pgbouncer]\nlisten_port = 7432\ndefault_pool_size = 30\npidfile = b.pid\nadmin_users = a,b\n');
    expect(reloadChanges(prev, next)).toEqual({
      applied: ['admin_users', 'default_pool_size'],
      ignored: [
        { name: 'listen_port', reason: 'listen_port cannot be changed by RELOAD; restart pgmux' },
        { name: 'pidfile', reason: 'pidfile cannot be changed by RELOAD; restart pgmux' },
      ],
    });
  });

  it('treats track_extra_parameters as restart-only, as PgBouncer 1.20 does', () => {
    const prev = load('[pgbouncer]\n');
    const next = load('[pgbouncer]\ntrack_extra_parameters = IntervalStyle, search_path\n');
    expect(reloadChanges(prev, next).ignored.map((i) => i.name)).toEqual(['track_extra_parameters']);
  });
});

describe('applyReload', () => {
  it('takes the new file but keeps the running value of what cannot change', () => {
    tmp.write('a.ini', '[pgbouncer]\nlisten_port = 6432\ndefault_pool_size = 20\n[databases]\nx = host=a\n');
    tmp.write('b.ini', '[pgbouncer]\nlisten_port = 7432\ndefault_pool_size = 30\n[databases]\nx = host=b\n');
    const prev = loadConfig(`${tmp.dir}/a.ini`);
    const next = loadConfig(`${tmp.dir}/b.ini`);
    const running = applyReload(prev, next);
    expect(running.settings.listen_port).toBe(6432);
    expect(running.settings.default_pool_size).toBe(30);
    expect(running.databases.get('x')?.host).toBe('b');
    expect(next.settings.listen_port).toBe(7432);
  });
});

describe('settings PgBouncer has no default for', () => {
  it('keep their running value when the reloaded file leaves them out, and take the file\'s when it sets them (catches: SET verbose or auth_file reset by a RELOAD, unlike PgBouncer)', () => {
    tmp.write('with.ini', '[pgbouncer]\nverbose = 2\nauth_file = a.txt\n');
    tmp.write('without.ini', '[pgbouncer]\n');
    tmp.write('other.ini', '[pgbouncer]\nverbose = 1\n');
    const running = loadConfig(`${tmp.dir}/with.ini`);
    const without = loadConfig(`${tmp.dir}/without.ini`);
    expect(reloadChanges(running, without)).toEqual({ applied: [], ignored: [] });
    const kept = applyReload(running, without);
    expect([kept.settings.verbose, kept.settings.auth_file]).toEqual([2, 'a.txt']);
    const other = loadConfig(`${tmp.dir}/other.ini`);
    expect(reloadChanges(kept, other).applied).toEqual(['verbose']);
    expect([applyReload(kept, other).settings.verbose, applyReload(kept, other).settings.auth_file]).toEqual([1, 'a.txt']);
  });
});
