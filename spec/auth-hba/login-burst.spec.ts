// Black-box spec of "a burst of failed logins from one address does not slow other clients'
// logins" (issue 7, Hardening). Across processes nothing can be counted, so the bound is a loose
// time box that only a per-attempt PBKDF2 could break: one of the users has a SCRAM secret of
// 2,000,000 iterations (about a second of PBKDF2 each time it were derived), and 400 failed
// SCRAM logins against it and against an unknown user run while a good client logs in. The
// failing client sends random proofs, so it pays no PBKDF2 itself. secret-cost.spec.ts counts
// the same property in-process with spies.

import { randomBytes } from 'node:crypto';
import { formatScramSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { userlistLine } from '../client/support/setup';
import { frame } from '../support/bytes';
import { errorFields, md5Password, msg } from '../support/wire';
import { failingScramLogin, opened, pollUntil, show, startHbaPgmux, whoAmI } from './support';

let cluster: Cluster;
let mux: PgmuxProcess;

/** Generous for a loaded 2-core machine; a per-attempt PBKDF2 of the heavy secret alone would take minutes. */
const BURST_BUDGET_MS = 30000;
const GOOD_LOGIN_BUDGET_MS = 2000;

beforeAll(async () => {
  cluster = await startCluster();
  // Built with one iteration, then relabelled: pgmux only reads the count and never derives it
  // for a SCRAM login (the client does), so no test process pays for 2,000,000 iterations.
  const heavy = { ...scramSecretFromPassword('never-used', randomBytes(16), 1), iterations: 2_000_000 };
  mux = await startHbaPgmux(
    cluster,
    'admin_users = admin\n',
    {
      'hba.conf': 'host all admin,app_md5 127.0.0.1/32 md5\nhost all all 127.0.0.1/32 scram-sha-256\n',
      'userlist.txt':
        userlistLine('app', cluster.password) +
        userlistLine('app_md5', cluster.password) +
        userlistLine('heavy', formatScramSecret(heavy)) +
        userlistLine('admin', 'admin-pw'),
    },
  );
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

/** Runs `jobs` with at most `width` at a time; resolves to their results in order. */
async function limited<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return out;
}

describe('a burst of failed SCRAM logins', () => {
  it(`finishes 400 failures within ${BURST_BUDGET_MS} ms while a good client's logins each take under ${GOOD_LOGIN_BUDGET_MS} ms, and leaves no client behind (catches: PBKDF2 per attempt, or a doomed exchange that blocks the event loop)`, async () => {
    const port = mux.port;
    const good: number[] = [];
    let bursting = true;
    const goodClient = (async () => {
      while (bursting || good.length < 3) {
        const t = Date.now();
        await expect(whoAmI({ port }, 'app', cluster.password)).resolves.toBe('app');
        good.push(Date.now() - t);
      }
    })();
    const started = Date.now();
    const jobs = Array.from({ length: 400 }, (_, i) => () => failingScramLogin({ port }, i % 2 === 0 ? 'heavy' : `ghost${i % 7}`));
    const errors = await limited(jobs, 20);
    const burstMs = Date.now() - started;
    bursting = false;
    await goodClient;

    const ghosts = [0, 1, 2, 3, 4, 5, 6].map((n) => `password authentication failed for user "ghost${n}"`);
    expect(new Set(errors)).toEqual(new Set(['password authentication failed for user "heavy"', ...ghosts]));
    expect(burstMs).toBeLessThan(BURST_BUDGET_MS);
    expect(good.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...good)).toBeLessThan(GOOD_LOGIN_BUDGET_MS);
    // Every failed client is gone: only the console asking is left.
    await pollUntil(async () => (await show(port, 'CLIENTS')).length === 1, 'SHOW CLIENTS to list only the console');
  });
});

describe('memory before login', () => {
  it('refuses a login message that declares 1 GB at once with 08P01, instead of buffering it until client_login_timeout (catches: unauthenticated clients growing memory at will)', async () => {
    const r = await opened({ port: mux.port });
    try {
      r.socket.write(msg.startup({ user: 'app', database: 'app' }));
      expect((await r.next()).type).toBe('R');
      const header = frame('p', Buffer.alloc(0));
      header.writeInt32BE(0x40000000, 1);
      const started = Date.now();
      r.socket.write(Buffer.concat([header, Buffer.alloc(70000, 0x61)]));
      const refusal = await r.next();
      expect(refusal.type).toBe('E');
      expect(errorFields(refusal.body)).toMatchObject({ C: '08P01', M: "invalid message length 1073741824 for message type 'p': PostgreSQL accepts at most 65535" });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      r.socket.destroy();
    }
  });

  it('still takes a 200 kB query pipelined right behind the password (catches: the login limit outliving the login)', async () => {
    const r = await opened({ port: mux.port });
    try {
      r.socket.write(msg.startup({ user: 'app_md5', database: 'app' }));
      const challenge = await r.next();
      expect(challenge.body.readInt32BE(0)).toBe(5);
      const password = frame('p', Buffer.from(`${md5Password('app_md5', cluster.password, challenge.body.subarray(4, 8))}\0`));
      r.socket.write(Buffer.concat([password, msg.query(`SELECT length('${'x'.repeat(200000)}') AS n`)]));
      let row: Buffer | undefined;
      for (let f = await r.next(); f.type !== 'C'; f = await r.next()) {
        expect(f.type).not.toBe('E');
        if (f.type === 'D') row = f.body;
      }
      expect(row?.subarray(6).toString()).toBe('200000');
    } finally {
      r.socket.destroy();
    }
  });
});
