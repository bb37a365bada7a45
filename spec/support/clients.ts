// Owns the client side of black-box specs: a connected node-postgres Client, and psql/pgbench
// runs with their output captured.

import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { run, type RunResult } from './child';
import { findPgBin } from './pgbin';

/** A node-postgres Client connected to 127.0.0.1:port. The caller ends it. */
export async function pgClient(port: number, user: string, password: string, db = 'app'): Promise<Client> {
  const client = new Client({ host: '127.0.0.1', port, user, password, database: db });
  await client.connect();
  return client;
}

/**
 * A client in an open transaction that has inserted 1 into table `bystander` (which the spec
 * creates): hostile-input specs check afterwards that it still sees its row and can COMMIT,
 * so that bad input on one connection is shown not to touch another's work.
 */
export async function bystanderInTransaction(port: number, password: string): Promise<Client> {
  const client = await pgClient(port, 'app', password);
  await client.query('BEGIN');
  await client.query('INSERT INTO bystander VALUES (1)');
  return client;
}

/** Debian's /usr/bin wrappers first (the brief's choice), else the newest server tree or PATH. */
function clientBin(name: string): string {
  const wrapper = `/usr/bin/${name}`;
  return existsSync(wrapper) ? wrapper : findPgBin(name);
}

/**
 * Our environment without PG* variables (a stray PGHOST or PGPASSWORD would change what
 * the spec tests), plus `env`. PSQLRC=/dev/null: a user's ~/.psqlrc must not alter output.
 */
function clientEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) base[k] = v;
  return { ...base, PSQLRC: '/dev/null', ...env };
}

/** Runs psql with `args` (e.g. ['-h', '127.0.0.1', '-p', port, '-c', 'SELECT 1']); `input` goes to stdin. */
export function psql(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return run(clientBin('psql'), args, { env: clientEnv(env), input });
}

/** Runs pgbench with `args`; pass PGPASSWORD in `env`. */
export function pgbench(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(clientBin('pgbench'), args, { env: clientEnv(env) });
}

export type { RunResult } from './child';
