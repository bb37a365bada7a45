// Unit spec of lib/client/session-params: the welcome a client gets is for its own startup
// parameters, also when the pool hands out the same welcome object to clients with equal ones
// (the last welcome is reused by comparing values, without building a key).

import { sessionParams } from '../../lib/client/session-params';
import { TrackedParams } from '../../lib/server/params';

const server: ReadonlyMap<string, string> = new Map([
  ['application_name', ''],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['server_version', '15.18'],
]);

describe('a client\'s welcome parameters', () => {
  it('follow each client\'s own startup values when clients alternate between two sets (catches the last welcome reused for different values)', () => {
    const tracked = new TrackedParams([]);
    const a = new Map([['application_name', 'pgbench'], ['client_encoding', 'UTF8']]);
    const b = new Map([['application_name', 'psql'], ['client_encoding', 'UTF8']]);
    const aSameValues = new Map(a);
    const first = sessionParams(server, a, tracked);
    expect(first.params.get('application_name')).toBe('pgbench');
    const other = sessionParams(server, b, tracked);
    expect(other.params.get('application_name')).toBe('psql');
    expect(other.status.includes(Buffer.from('psql\0'))).toBe(true);
    // Equal values: the one shared welcome, whichever was last.
    expect(sessionParams(server, aSameValues, tracked)).toBe(first);
    expect(sessionParams(server, aSameValues, tracked)).toBe(first);
    // One value more, or one fewer, is another welcome.
    const more = sessionParams(server, new Map([...a, ['TimeZone', 'Europe/Paris']]), tracked);
    expect(more.params.get('TimeZone')).toBe('Europe/Paris');
    const fewer = sessionParams(server, new Map([['application_name', 'pgbench']]), tracked);
    expect(fewer).not.toBe(first);
    expect(fewer.params.get('client_encoding')).toBe('UTF8');
    expect(sessionParams(server, new Map(), tracked).params.get('application_name')).toBe('');
  });
});
