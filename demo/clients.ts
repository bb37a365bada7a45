// Owns the demo's own client connections through pgmux (node-postgres, as an application would
// connect) and its admin-console queries; every connection it opens it also closes.

import { Client, type QueryResult, type QueryResultRow } from 'pg';
import type { DemoConfig } from './config';

export class DemoClients {
  private readonly open = new Set<Client>();

  constructor(private readonly config: DemoConfig) {}

  /** A connection to `db` through pgmux as `user`, as a driver would open it. */
  async connect(db = 'app', user = 'app'): Promise<Client> {
    const { host, port, password } = this.config;
    const client = new Client({ host, port, user, password, database: db, application_name: 'pgmux-demo' });
    // A connection pgmux or a server drops while idle emits 'error'; unheard, it would end the demo.
    client.on('error', () => undefined);
    this.open.add(client);
    await client.connect();
    return client;
  }

  async close(client: Client): Promise<void> {
    this.open.delete(client);
    await client.end().catch(() => undefined);
  }

  /** One admin-console command (database pgbouncer, as postgres); its rows as text. */
  async admin<T extends QueryResultRow = Record<string, string | null>>(command: string): Promise<QueryResult<T>> {
    const client = await this.connect('pgbouncer', 'postgres');
    try {
      return await client.query<T>(command);
    } finally {
      await this.close(client);
    }
  }

  /** Closes whatever is still open (a Ctrl-C during the tour). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((c) => this.close(c)));
  }
}
