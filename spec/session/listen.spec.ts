// Black-box spec of LISTEN/NOTIFY in transaction pooling (issue 14): real PostgreSQL, real
// drivers, pgmux as a child process. pgmux LISTENs through one listener connection per
// (database, user) and answers LISTEN, UNLISTEN and pg_listening_channels() itself; what the
// server sees is read from pg_stat_activity, what clients get from their drivers' own
// notification events. NOTIFYs come through pgmux and straight from PostgreSQL.

import { Client, Query } from 'pg';
import { poolSuite, runPgmux, waitFor, type Observer } from '../pool/support';
import { Inbox, nothingMoreOn } from './support';
import { RawClient } from '../support/wire';
import { msg } from '../support/messages';

const ROLES = ['l_many', 'l_unlisten', 'l_tx', 'l_mid', 'l_kill', 'l_pipe'];

jest.setTimeout(30000);

const suite = poolSuite(ROLES, 'SELECT 1');

/** The listener connections of `user` (pgmux's own application_name). */
async function listenerPids(obs: Observer, user: string): Promise<number[]> {
  const r = await obs.query("SELECT pid FROM pg_stat_activity WHERE usename = $1 AND application_name = 'pgmux listener' ORDER BY pid", [user]);
  return r.rows.map((row) => Number(row.pid));
}

async function channels(c: Client): Promise<string[]> {
  const r = await c.query<{ pg_listening_channels: string }>('SELECT pg_listening_channels()');
  return r.rows.map((row) => row.pg_listening_channels);
}

/** NOTIFY straight to PostgreSQL (not through pgmux). */
function directNotify(obs: Observer, channel: string, payload = ''): Promise<unknown> {
  return obs.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

describe('LISTEN/NOTIFY in transaction pooling', () => {
  it('10 listeners sharing a pool of 1 get every NOTIFY, from a pgmux client and from a direct connection, with payloads in order, through one listener connection (catches: a server held per listener, or LISTEN run on a pooled server that nobody reads)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_many'], settings: { default_pool_size: 1 } });
    const listeners = await Promise.all(Array.from({ length: 10 }, () => suite.run!.connect('l_many')));
    const inboxes = listeners.map((c) => new Inbox(c));
    for (const c of listeners) await c.query('LISTEN news');
    const sender = await suite.run.connect('l_many');
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(`pgmux-${i}`);
      await sender.query(`NOTIFY news, 'pgmux-${i}'`);
      sent.push(`direct-${i}`);
      await directNotify(suite.obs, 'news', `direct-${i}`);
    }
    // A listener's own NOTIFY reaches it too, as in PostgreSQL.
    sent.push('self');
    await listeners[0].query("NOTIFY news, 'self'");
    for (const inbox of inboxes) expect(await inbox.count(11, 'news')).toEqual(sent);
    // One listener connection for the 10, plus the pool's one server.
    expect(await listenerPids(suite.obs, 'l_many')).toHaveLength(1);
    expect((await suite.obs.backends('l_many')).length).toBeLessThanOrEqual(2);
    for (const c of listeners) expect(await channels(c)).toEqual(['news']);
    // The sender never listened: nothing reached it.
    expect(new Inbox(sender).notifications).toEqual([]);
  });

  it('UNLISTEN ch, UNLISTEN *, DISCARD ALL and a disconnect each stop delivery; the listener leaves when its last client does (catches: channels kept after they were dropped)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_unlisten'], settings: { default_pool_size: 1 } });
    const a = await suite.run.connect('l_unlisten');
    const b = await suite.run.connect('l_unlisten');
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    await a.query('LISTEN x; LISTEN "Mixed Case"');
    await a.query('LISTEN y');
    await b.query('LISTEN y');
    expect(await channels(a)).toEqual(['x', 'Mixed Case', 'y']);
    expect(await channels(b)).toEqual(['y']);
    await directNotify(suite.obs, 'Mixed Case', 'm1');
    await directNotify(suite.obs, 'y', 'y1');
    expect(await inA.count(1, 'Mixed Case')).toEqual(['m1']);
    expect(await inA.count(1, 'y')).toEqual(['y1']);
    expect(await inB.count(1, 'y')).toEqual(['y1']);

    await a.query('UNLISTEN y');
    expect(await channels(a)).toEqual(['x', 'Mixed Case']);
    await directNotify(suite.obs, 'y', 'y2');
    // b still gets y; a does not.
    expect(await inB.count(2, 'y')).toEqual(['y1', 'y2']);
    await nothingMoreOn(inA, 'y', 'x', (ch) => directNotify(suite.obs, ch));

    await a.query('UNLISTEN *');
    expect(await channels(a)).toEqual([]);
    await a.query('LISTEN z');
    expect(await channels(a)).toEqual(['z']);
    await a.query('DISCARD ALL');
    expect(await channels(a)).toEqual([]);
    await a.query('LISTEN marker');
    await directNotify(suite.obs, 'z', 'z1');
    await directNotify(suite.obs, 'x', 'x-late');
    await nothingMoreOn(inA, 'z', 'marker', (ch) => directNotify(suite.obs, ch));
    expect(inA.payloads('x')).toEqual(['']);

    // b leaves: a's channel keeps the listener; when a leaves too, it closes.
    expect(await listenerPids(suite.obs, 'l_unlisten')).toHaveLength(1);
    await b.end();
    await directNotify(suite.obs, 'marker', 'still');
    await inA.count(1, 'marker');
    await a.end();
    await waitFor('the listener connection to close', async () => (await listenerPids(suite.obs, 'l_unlisten')).length === 0);
  });

  it('LISTEN in a transaction takes effect at COMMIT and is dropped by ROLLBACK or an error, as in PostgreSQL (catches: a channel kept that the client did not end up listening on)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_tx'], settings: { default_pool_size: 1 } });
    const c = await suite.run.connect('l_tx');
    const inbox = new Inbox(c);
    await c.query('BEGIN');
    await c.query('LISTEN rolled');
    await c.query('ROLLBACK');
    expect(await channels(c)).toEqual([]);

    await c.query('BEGIN');
    await c.query('LISTEN kept');
    // Not yet: PostgreSQL lists a channel once its LISTEN has committed.
    expect(await channels(c)).toEqual([]);
    await c.query('COMMIT');
    expect(await channels(c)).toEqual(['kept']);

    await c.query('BEGIN');
    await c.query('LISTEN failed');
    await expect(c.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    // In a failed transaction PostgreSQL refuses LISTEN too.
    await expect(c.query('LISTEN failed2')).rejects.toMatchObject({ code: '25P02' });
    await c.query('COMMIT');
    expect(await channels(c)).toEqual(['kept']);

    await c.query('BEGIN');
    await c.query('UNLISTEN kept');
    await c.query('ROLLBACK');
    expect(await channels(c)).toEqual(['kept']);

    await directNotify(suite.obs, 'rolled', 'r');
    await directNotify(suite.obs, 'failed', 'f');
    await directNotify(suite.obs, 'kept', 'k');
    expect(await inbox.count(1, 'kept')).toEqual(['k']);
    expect(inbox.notifications.map((n) => n.channel)).toEqual(['kept']);
  });

  it('a LISTEN pipelined between other queries in a transaction is answered in its place, with the server\'s transaction status, and counts at the pipelined COMMIT (catches: an answer out of order, or the COMMIT not seen)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_pipe'], settings: { default_pool_size: 1 } });
    const raw = await RawClient.login(suite.run.port, 'l_pipe', suite.cluster.password);
    try {
      raw.send(Buffer.concat(['SELECT 1 AS a', 'BEGIN', 'LISTEN piped', 'SELECT 2 AS b', 'COMMIT'].map((q) => msg.query(q))));
      const frames = [];
      for (let i = 0; i < 5; i++) frames.push(...(await raw.until('Z')));
      const seen = frames.filter((f) => f.type === 'C' || f.type === 'Z').map((f) => (f.type === 'C' ? f.body.toString('utf8', 0, f.body.length - 1) : `Z ${String.fromCharCode(f.body[0]!)}`));
      expect(seen).toEqual(['SELECT 1', 'Z I', 'BEGIN', 'Z T', 'LISTEN', 'Z T', 'SELECT 1', 'Z T', 'COMMIT', 'Z I']);
      const chans = await raw.roundTrip(msg.query('SELECT pg_listening_channels()'));
      expect(chans.filter((f) => f.type === 'D').map((f) => f.body.toString('utf8', 6))).toEqual(['piped']);
      // A pipelined LISTEN is not waited for (README): wait until the listener has LISTENed, as the server shows it.
      await waitFor('the listener to LISTEN on piped', async () => {
        const r = await suite.obs.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'l_pipe' AND application_name = 'pgmux listener' AND state = 'idle' AND query LIKE '%piped%'");
        return r.rows.length === 1;
      });
      await directNotify(suite.obs, 'piped', 'p1');
      const note = await raw.waitFor('A');
      expect(note.body.toString('utf8', 4)).toBe('piped\0p1\0');
    } finally {
      await raw.close();
    }
  });

  it('a notification that comes while the client is receiving a result arrives whole after it, and the result is intact (catches: a NotificationResponse written into the middle of relayed rows)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_mid'], settings: { default_pool_size: 2 } });
    const busy = await suite.run.connect('l_mid');
    const watcher = await suite.run.connect('l_mid');
    const sender = await suite.run.connect('l_mid');
    const inBusy = new Inbox(busy);
    const inWatcher = new Inbox(watcher);
    await busy.query('LISTEN mid');
    await watcher.query('LISTEN mid');
    const events: string[] = [];
    busy.on('notification', (n) => events.push(`notification ${n.payload ?? ''}`));
    // Rows stream, then the query waits on a lock the test holds, then more rows stream.
    await suite.obs.query('SELECT pg_advisory_lock(4242)');
    const rows: number[] = [];
    let rowSeen!: () => void;
    const firstRow = new Promise<void>((resolve) => (rowSeen = resolve));
    const q = busy.query(
      new Query("SELECT g, repeat('x', 200) AS pad, CASE WHEN g = 30000 THEN pg_advisory_lock_shared(4242)::text END AS w FROM generate_series(1, 60000) g"),
    );
    q.on('row', (row: { g: number; pad: string }) => {
      rows.push(row.g);
      if (row.pad.length !== 200) throw new Error('corrupt row');
      rowSeen();
    });
    const done = new Promise<void>((resolve, reject) => {
      q.on('end', () => {
        events.push('result');
        resolve();
      });
      q.on('error', reject);
    });
    await firstRow;
    await sender.query("NOTIFY mid, 'during'");
    // The idle watcher has it: pgmux's listener got it while busy was mid-result.
    await inWatcher.count(1, 'mid');
    expect(inBusy.notifications).toEqual([]);
    await suite.obs.query('SELECT pg_advisory_unlock(4242)');
    await done;
    expect(rows).toHaveLength(60000);
    expect(rows.every((g, i) => g === i + 1)).toBe(true);
    expect(await inBusy.count(1, 'mid')).toEqual(['during']);
    expect(events).toEqual(['result', 'notification during']);
    // The client goes on normally.
    expect((await busy.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
  });

  it('a listener connection killed with pg_terminate_backend comes back with its channels, the clients are told they may have missed notifications, and later ones arrive (catches: listeners silently deaf after the connection is lost)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_kill'], settings: { default_pool_size: 1 } });
    const a = await suite.run.connect('l_kill');
    const b = await suite.run.connect('l_kill');
    const inA = new Inbox(a);
    const inB = new Inbox(b);
    await a.query('LISTEN k1');
    await b.query('LISTEN k2');
    const [first] = await listenerPids(suite.obs, 'l_kill');
    expect(first).toBeDefined();
    await suite.obs.terminate(first);
    await waitFor('a new listener connection', async () => {
      const now = await listenerPids(suite.obs, 'l_kill');
      return now.length === 1 && now[0] !== first;
    });
    await waitFor('the notice at a', () => inA.notices.length > 0);
    await waitFor('the notice at b', () => inB.notices.length > 0);
    expect(inA.notices[0]).toMatch(/listener connection to database "app" was lost .* and is back; notifications sent in between may have been missed/);
    await suite.run.pgmux.waitForLog(/listener connection of app\/l_kill is back/);
    await directNotify(suite.obs, 'k1', 'after');
    await directNotify(suite.obs, 'k2', 'after');
    expect(await inA.count(1, 'k1')).toEqual(['after']);
    expect(await inB.count(1, 'k2')).toEqual(['after']);
    expect(await channels(a)).toEqual(['k1']);
  });

});
