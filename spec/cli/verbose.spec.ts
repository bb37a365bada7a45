// Black-box spec: the log level follows `verbose` while pgmux runs. `verbose` is reloadable and
// SET-able on the admin console in PgBouncer; 1 prints DEBUG lines (e.g. "got admin query: ..."),
// and like PgBouncer a RELOAD of a file that leaves `verbose` out keeps the running value (it has
// no default to go back to).
//
// "Not printed" is read at a later LOG line the same process wrote after the statement in
// question (stderr is written in order), never after a sleep.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startPgBouncer } from '../support/pgbouncer';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';

jest.setTimeout(30000);

const clients: Client[] = [];
const stops: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  for (const stop of stops.splice(0)) await stop();
});

/** An ini whose only database points nowhere: these specs talk to the admin console alone. */
function ini(port: number, extra = ''): string {
  return (
    '[databases]\nd = host=127.0.0.1 port=1 dbname=d\n' +
    `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    `auth_type = trust\nauth_file = userlist.txt\nadmin_users = admin\n${extra}`
  );
}

const FILES = { 'userlist.txt': '"admin" ""\n' };

async function pgmux(extra = ''): Promise<{ mux: PgmuxProcess; file: string; port: number }> {
  const port = await freePort();
  const mux = await startPgmux(ini(port, extra), FILES);
  stops.push(() => mux.stop());
  return { mux, file: join(mux.dir, 'pgmux.ini'), port };
}

async function consoleOf(port: number): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'admin', database: 'pgbouncer' });
  c.on('error', () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Resolves once the output holds `needle` at least `n` times; then returns the output. */
async function untilLogged(mux: PgmuxProcess, needle: string, n = 1): Promise<string> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const out = mux.logs();
    if (count(out, needle) >= n) return out;
    if (Date.now() > deadline) throw new Error(`pgmux never logged "${needle}" ${n} time(s); output:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('verbose while running', () => {
  it('SET verbose = 2 on the console prints DEBUG lines from then on, and SET verbose = 0 stops them (catches: SET accepted and shown by SHOW CONFIG but the log level never changed)', async () => {
    const { mux, port } = await pgmux();
    const admin = await consoleOf(port);
    await admin.query('SHOW LISTS');
    await admin.query('SET verbose = 2');
    let out = await untilLogged(mux, 'LOG SET verbose=2');
    expect(out).not.toContain('got admin query: SHOW LISTS');
    expect(out).not.toContain(' DEBUG ');

    await admin.query('SHOW VERSION');
    await untilLogged(mux, 'got admin query: SHOW VERSION');

    await admin.query('SET verbose = 0');
    await admin.query('SHOW USERS');
    // The second "SET verbose=0" line comes after SHOW USERS was handled.
    await admin.query('SET verbose = 0');
    out = await untilLogged(mux, 'LOG SET verbose=0', 2);
    expect(out).not.toContain('got admin query: SHOW USERS');
  });

  it('SIGHUP and RELOAD with a changed verbose change the level; a file without verbose keeps it (catches: reloaded verbose ignored, or reset to 0 unlike PgBouncer)', async () => {
    const { mux, file, port } = await pgmux();
    const admin = await consoleOf(port);
    writeFileSync(file, ini(port, 'verbose = 1\n'));
    process.kill(mux.pid, 'SIGHUP');
    await untilLogged(mux, 'config reloaded: verbose');
    await admin.query('SHOW POOLS');
    await untilLogged(mux, 'got admin query: SHOW POOLS');

    writeFileSync(file, ini(port));
    await admin.query('RELOAD');
    await admin.query('SHOW MEM');
    await untilLogged(mux, 'got admin query: SHOW MEM');

    writeFileSync(file, ini(port, 'verbose = 0\n'));
    await admin.query('RELOAD');
    await admin.query('SHOW DATABASES');
    // A RELOAD that changes nothing logs "config reloaded" after SHOW DATABASES was handled.
    const reloads = count(mux.logs(), 'LOG config reloaded');
    await admin.query('RELOAD');
    const out = await untilLogged(mux, 'LOG config reloaded', reloads + 1);
    expect(out).not.toContain('got admin query: SHOW DATABASES');
  });

  it('SHOW CONFIG\'s verbose goes through SET and RELOADs exactly as in PgBouncer 1.18 (catches: a RELOAD of a file without verbose resetting a SET value)', async () => {
    const steps = async (port: number, file: string): Promise<string[]> => {
      const admin = await consoleOf(port);
      const value = async (): Promise<string> => {
        const r = await admin.query<{ key: string; value: string }>('SHOW CONFIG');
        return r.rows.find((row) => row.key === 'verbose')?.value ?? '(missing)';
      };
      const seen = [await value()];
      await admin.query('SET verbose = 2');
      seen.push(await value());
      await admin.query('RELOAD');
      seen.push(await value());
      writeFileSync(file, ini(port, 'verbose = 1\n'));
      await admin.query('RELOAD');
      seen.push(await value());
      writeFileSync(file, ini(port));
      await admin.query('RELOAD');
      seen.push(await value());
      return seen;
    };
    const { file, port } = await pgmux();
    const mine = await steps(port, file);
    const bouncerPort = await freePort();
    const bouncer = await startPgBouncer(ini(bouncerPort), FILES);
    stops.push(() => bouncer.stop());
    const theirs = await steps(bouncerPort, join(bouncer.dir, 'pgbouncer.ini'));
    expect(mine).toEqual(theirs);
    expect(mine).toEqual(['0', '2', '2', '1', '1']);
  });
});
