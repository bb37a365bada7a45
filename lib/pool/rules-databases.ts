// Owns the wiring of the rules (lib/rules) to pgmux's databases: for each database, the
// classifier its clients' statements are judged by (the replica set's when it has one, else one
// of its own), the server database its cached answers belong to, its read_your_writes scope, and
// the catalog facts the result cache needs, fetched from the primary over a one-off monitor
// connection (lib/routing/monitor queryOnce) when first asked, again after DDL through pgmux and
// once a minute while in use.

import { databaseHosts, effective, type DatabaseDef, type Settings } from '../config';
import type { Connect } from '../connect';
import { log } from '../log';
import { CacheCatalog, CATALOG_SQL } from '../rules/catalog';
import type { RulesDatabase, StatementClass } from '../rules/client-rules';
import { Classifier } from '../routing/classify';
import { withoutKey } from '../routing/consistency-key';
import { queryOnce, type MonitorLogin } from '../routing/monitor';
import type { ReplicaSet } from '../routing/router';

/** What the wiring needs from the registry. */
export interface RulesDatabasesOwner {
  readonly settings: Settings;
  readonly replicaSets: ReadonlyMap<string, ReplicaSet>;
  probeLogin(db: DatabaseDef): MonitorLogin | null;
  primaryConnect(db: DatabaseDef): Connect;
}

/** A catalog older than this is fetched again at its next use (the old one serves meanwhile). */
const CATALOG_MAX_AGE_MS = 60_000;
/** A failed fetch is tried again this much later. */
const CATALOG_RETRY_MS = 10_000;

class DatabaseRules implements RulesDatabase {
  readonly name: string;
  readonly domain: string;
  readonly readYourWrites: RulesDatabase['readYourWrites'];
  private own: Classifier | null = null;
  private current: CacheCatalog | null = null;
  private fetchedAt = 0;
  private fetching = false;
  private retryAt = 0;
  /** Bumped by catalogChanged(): a fetch that began before it is not trusted. */
  private generation = 0;
  stopped = false;

  constructor(
    private readonly owner: RulesDatabasesOwner,
    private readonly db: DatabaseDef,
  ) {
    this.name = db.name;
    const first = databaseHosts(db)[0];
    this.domain = `${db.dbname}@${first.host ?? owner.settings.unix_socket_dir}:${first.port}`;
    this.readYourWrites = effective(owner.settings, 'read_your_writes', db, undefined);
  }

  classify(sql: string): StatementClass {
    const set = this.owner.replicaSets.get(this.name);
    const classifier =
      set?.classifier ??
      (this.own ??= new Classifier({
        writeFunctions: effective(this.owner.settings, 'write_functions', this.db, undefined),
        readOnlyFunctions: effective(this.owner.settings, 'read_only_functions', this.db, undefined),
      }));
    return classifier.classify(withoutKey(sql));
  }

  catalog(): CacheCatalog | null {
    const now = Date.now();
    if (!this.fetching && !this.stopped && now >= this.retryAt && (this.current === null || now - this.fetchedAt > CATALOG_MAX_AGE_MS)) this.fetch();
    return this.current;
  }

  catalogChanged(): void {
    // What was cacheable may be a view now: nothing is cached until the catalog is read again.
    this.current = null;
    this.generation++;
    this.retryAt = 0;
    if (this.fetching) return;
    this.fetch();
  }

  private fetch(): void {
    const who = this.owner.probeLogin(this.db);
    if (who === null) {
      this.retryAt = Date.now() + CATALOG_RETRY_MS;
      return;
    }
    this.fetching = true;
    const generation = this.generation;
    const timeoutMs = Math.max(this.owner.settings.server_connect_timeout, 1) * 1000 + 5000;
    queryOnce(this.owner.primaryConnect(this.db), who, CATALOG_SQL, timeoutMs, (rows, reason) => {
      this.fetching = false;
      if (this.stopped) return;
      if (rows === null) {
        log.warn(`database ${this.name}: result cache catalog lookup failed (${reason}); nothing is cached, retrying in ${CATALOG_RETRY_MS / 1000} s`);
        this.retryAt = Date.now() + CATALOG_RETRY_MS;
        return;
      }
      if (generation !== this.generation) {
        // DDL committed while it ran: its answer may predate the change.
        this.fetch();
        return;
      }
      this.current = CacheCatalog.fromRows(rows);
      this.fetchedAt = Date.now();
      log.debug(`database ${this.name}: result cache catalog loaded (${rows.length} names)`);
    });
  }
}

export class RulesDatabases {
  private readonly dbs = new Map<string, DatabaseRules>();

  constructor(private readonly owner: RulesDatabasesOwner) {}

  /** The rules' view of `db` (one object per database until RELOAD). */
  get(db: DatabaseDef): RulesDatabase {
    let d = this.dbs.get(db.name);
    if (d === undefined) {
      d = new DatabaseRules(this.owner, db);
      this.dbs.set(db.name, d);
    }
    return d;
  }

  /** RELOAD: databases are looked up afresh (lines and settings may have changed); connected clients keep theirs. */
  reload(): void {
    this.dbs.clear();
  }

  stop(): void {
    for (const d of this.dbs.values()) d.stopped = true;
    this.dbs.clear();
  }
}
