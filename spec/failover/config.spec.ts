// The failover part of the config (issue 12): libpq-style host lists with one port for all or
// one each, zones per host, failover_timeout per database, and the lines that must be refused
// with the file, the line and what to change.

import { databaseFromPairs, databaseHosts, defaultSettings, effective, parseConnString } from '../../lib/config';

const SRC = 'f.ini:7';

function db(line: string) {
  return databaseFromPairs('app', parseConnString(line, SRC), SRC, true);
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
}

describe('host= lists', () => {
  /** A single host is PgBouncer's line, unchanged: no list is kept, host and port as given. */
  it('keeps a single host as it was', () => {
    const d = db('host=10.0.0.1 port=5433 dbname=app');
    expect(d.hosts).toBeUndefined();
    expect([d.host, d.port]).toEqual(['10.0.0.1', 5433]);
    expect(databaseHosts(d)).toEqual([{ host: '10.0.0.1', port: 5433, weight: 1, zone: '' }]);
  });

  it('reads several hosts with one port for all, or one port each, in either order on the line', () => {
    expect(db('host=a,b,c port=6000').hosts).toEqual([
      { host: 'a', port: 6000 },
      { host: 'b', port: 6000 },
      { host: 'c', port: 6000 },
    ]);
    const each = db('port=5432,5433 host=a,b');
    expect(each.hosts).toEqual([
      { host: 'a', port: 5432 },
      { host: 'b', port: 5433 },
    ]);
    // host and port are the first candidate's, for what reads a single address.
    expect([each.host, each.port]).toEqual(['a', 5432]);
    expect(db("host='a, b'").hosts).toEqual([
      { host: 'a', port: 5432 },
      { host: 'b', port: 5432 },
    ]);
  });

  /** Every host pgmux knows is a candidate: host= first, then replicas=, each with its zone. */
  it('orders the hosts host= first, then replicas=, with zones= one per host', () => {
    const d = db('host=a,b port=1,2 replicas=c:3@5 zones=east,west,east');
    expect(databaseHosts(d)).toEqual([
      { host: 'a', port: 1, weight: 1, zone: 'east' },
      { host: 'b', port: 2, weight: 1, zone: 'west' },
      { host: 'c', port: 3, weight: 5, zone: 'east' },
    ]);
  });

  it('refuses lists that cannot mean anything, saying what to change', () => {
    expect(errorOf(() => db('host=a,b,c port=1,2'))).toBe('f.ini:7: port lists 2 ports for 3 hosts; give one port for all hosts or one per host');
    expect(errorOf(() => db('host=a,,b'))).toBe('f.ini:7: host has an empty entry in "a,,b"; write host names separated by commas');
    expect(errorOf(() => db('host=a,a'))).toBe('f.ini:7: host lists a:5432 twice');
    expect(errorOf(() => db('host=a,b port=1,x'))).toBe('f.ini:7: port must be an integer from 1 to 65535, not "x"');
    expect(errorOf(() => db('host=a,b replicas=b:5432'))).toBe('f.ini:7: b:5432 is listed both in host= and in replicas=; list each server once');
    expect(errorOf(() => db('host=a,b zones=x'))).toBe('f.ini:7: zones lists 1 zones for 2 hosts (host= then replicas=); give one zone per host');
  });
});

describe('failover_timeout', () => {
  /** 30 s: a switchover or an automatic failover finishes within it, and it stays under query_wait_timeout. */
  it('defaults to 30 s and may be set per database', () => {
    const s = defaultSettings();
    expect(s.failover_timeout).toBe(30);
    expect(effective(s, 'failover_timeout', db('host=a,b failover_timeout=5'), undefined)).toBe(5);
    expect(effective(s, 'failover_timeout', db('host=a,b'), undefined)).toBe(30);
    expect(errorOf(() => db('host=a failover_timeout=soon'))).toMatch(/^f\.ini:7: failover_timeout=soon is not valid/);
  });
});
