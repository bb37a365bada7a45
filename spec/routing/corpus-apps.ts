// Owns the part of the routing corpus written in the shape real software sends: ORMs (Django,
// Rails, SQLAlchemy, Hibernate/pgJDBC, Prisma, Sequelize, TypeORM, Ecto), drivers' type
// introspection, migration tools, job queues, and admin and monitoring tools (psql's \d
// commands, pg_dump, pgAdmin, DBeaver, Grafana, Metabase, postgres_exporter, Datadog). Quoting,
// aliases, placeholders and catalog joins follow each tool; tables are the corpus fixtures'.

import type { CorpusEntry } from './corpus';

const R = 'replica' as const;
const P = 'primary' as const;

/** Tables the tools below keep for themselves, created with the corpus fixtures. */
export const TOOL_FIXTURES = `
CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20240101000000');
CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), applied timestamptz);
CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200),
  type varchar(20), script varchar(1000), checksum int, installed_by varchar(100), installed_on timestamp DEFAULT now(),
  execution_time int, success boolean);
CREATE TABLE databasechangeloglock (id int PRIMARY KEY, locked boolean NOT NULL, lockgranted timestamp, lockedby varchar(255));
INSERT INTO databasechangeloglock VALUES (1, false, NULL, NULL);
CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, checksum varchar(64), finished_at timestamptz,
  migration_name varchar(255), logs text, rolled_back_at timestamptz, started_at timestamptz DEFAULT now(),
  applied_steps_count int DEFAULT 0);
SELECT lo_from_bytea(7001, 'corpus large object');
`;

/** Django (psycopg 3, client-side binding: literals inline). */
const DJANGO: CorpusEntry[] = [
  { sql: `SELECT "accounts"."id", "accounts"."name", "accounts"."email", "accounts"."balance" FROM "accounts" WHERE "accounts"."id" = 1 LIMIT 21`, label: R },
  { sql: `SELECT 1 AS "a" FROM "accounts" WHERE "accounts"."email" = 'alice@example.com' LIMIT 1`, label: R },
  { sql: `SELECT COUNT(*) AS "__count" FROM "orders" WHERE "orders"."status" = 'open'`, label: R },
  {
    sql: `SELECT "orders"."id", "orders"."account_id", "orders"."status", "orders"."total", "orders"."placed_at", "accounts"."id", "accounts"."name" FROM "orders" INNER JOIN "accounts" ON ("orders"."account_id" = "accounts"."id") WHERE "orders"."total" > 5 ORDER BY "orders"."placed_at" DESC`,
    label: R,
  },
  { sql: `SELECT "orders"."id", "orders"."account_id", "orders"."total" FROM "orders" WHERE "orders"."account_id" IN (1, 2, 3)`, label: R },
  {
    sql: `SELECT "accounts"."id", "accounts"."name", COUNT("orders"."id") AS "n_orders" FROM "accounts" LEFT OUTER JOIN "orders" ON ("accounts"."id" = "orders"."account_id") GROUP BY "accounts"."id" ORDER BY "n_orders" DESC`,
    label: R,
  },
  { sql: `SELECT "accounts"."id" FROM "accounts" WHERE ("accounts"."data" -> 'plan') = '"pro"'::jsonb`, label: R },
  { sql: `SELECT "accounts"."id", "accounts"."data" FROM "accounts" WHERE "accounts"."data" @> '{"plan": "pro"}'::jsonb`, label: R },
  { sql: `SELECT "accounts"."id" FROM "accounts" ORDER BY RANDOM() ASC LIMIT 1`, label: R },
  {
    sql: `SELECT "accounts"."id", EXISTS(SELECT 1 AS "a" FROM "orders" U0 WHERE (U0."account_id" = ("accounts"."id") AND U0."status" = 'open') LIMIT 1) AS "has_open" FROM "accounts"`,
    label: R,
  },
  { sql: `SELECT "orders"."id", RANK() OVER (PARTITION BY "orders"."account_id" ORDER BY "orders"."total" DESC) AS "rank" FROM "orders"`, label: R },
  {
    sql: `SELECT "accounts"."id", ts_rank(to_tsvector(COALESCE("accounts"."name", '')), plainto_tsquery('alice')) AS "rank" FROM "accounts" WHERE to_tsvector(COALESCE("accounts"."name", '')) @@ (plainto_tsquery('alice')) = true ORDER BY "rank" DESC`,
    label: R,
  },
  { sql: `SELECT "django_migrations"."id", "django_migrations"."app", "django_migrations"."name", "django_migrations"."applied" FROM "django_migrations"`, label: R },
  {
    sql: `SELECT
    c.relname,
    CASE
        WHEN c.relispartition THEN 'p'
        WHEN c.relkind IN ('m', 'v') THEN 'v'
        ELSE 't'
    END,
    obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')
    AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
    AND pg_catalog.pg_table_is_visible(c.oid)`,
    label: R,
  },
  {
    sql: `SELECT s.relname, a.attname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass JOIN pg_attribute a ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum JOIN pg_class tbl ON tbl.oid = d.refobjid AND tbl.relname = 'accounts' AND pg_catalog.pg_table_is_visible(tbl.oid) WHERE s.relkind = 'S'`,
    label: R,
  },
  { sql: `SELECT "accounts"."id" FROM "accounts" WHERE "accounts"."id" = 1 FOR UPDATE OF "accounts"`, label: P, reason: 'primary: FOR UPDATE', standbyRefuses: true },
  { sql: `SELECT "orders"."id" FROM "orders" WHERE "orders"."status" = 'open' LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED`, label: P, reason: 'primary: FOR NO KEY UPDATE' },
  {
    sql: `INSERT INTO "orders" ("account_id", "status", "total", "placed_at") VALUES (1, 'new', 1.00, '2024-01-01T00:00:00+00:00'::timestamptz), (2, 'new', 2.00, '2024-01-01T00:00:00+00:00'::timestamptz) RETURNING "orders"."id"`,
    label: P,
    reason: 'primary: INSERT',
  },
  { sql: `INSERT INTO "orders" ("account_id", "status") SELECT * FROM UNNEST(('{1,2}')::bigint[], ('{a,b}')::text[]) RETURNING "orders"."id"`, label: P },
  { sql: `UPDATE "accounts" SET "created_at" = STATEMENT_TIMESTAMP() WHERE "accounts"."id" = 1`, label: P },
  { sql: `SELECT setval(pg_get_serial_sequence('"accounts"','id'), coalesce(max("id"), 1), max("id") IS NOT null) FROM "accounts";`, label: P, reason: 'primary: volatile function setval' },
  { sql: 'SAVEPOINT "s140321_x1"', label: R, run: 'txn' },
  { sql: 'RELEASE SAVEPOINT "s140321_x1"', label: R, run: 'txn', setup: ['SAVEPOINT "s140321_x1"'] },
];

/** Rails / ActiveRecord (prepared statements, $n binds). */
const RAILS: CorpusEntry[] = [
  { sql: 'SELECT "accounts".* FROM "accounts" WHERE "accounts"."id" = $1 LIMIT $2', label: R, params: [1, 1] },
  { sql: 'SELECT 1 AS one FROM "accounts" WHERE "accounts"."email" = $1 LIMIT $2', label: R, params: ['alice@example.com', 1] },
  { sql: 'SELECT COUNT(*) FROM "orders" WHERE "orders"."account_id" = $1', label: R, params: [1] },
  { sql: 'SELECT "orders".* FROM "orders" WHERE "orders"."account_id" IN ($1, $2) ORDER BY "orders"."id" ASC LIMIT $3', label: R, params: [1, 2, 10] },
  { sql: 'SELECT "accounts".* FROM "accounts" WHERE "accounts"."id" > $1 ORDER BY "accounts"."id" ASC LIMIT $2', label: R, params: [0, 1000] },
  { sql: `SELECT "accounts".* FROM "accounts" WHERE ("accounts"."name" ILIKE '%ali%') ORDER BY "accounts"."created_at" DESC LIMIT $1 OFFSET $2`, label: R, params: [25, 0] },
  { sql: 'SELECT "orders"."status", COUNT(*) AS "count_all" FROM "orders" GROUP BY "orders"."status"', label: R },
  { sql: 'SELECT MAX("orders"."total") FROM "orders"', label: R },
  { sql: 'SELECT "accounts"."email" FROM "accounts" WHERE "accounts"."email" IS NOT NULL', label: R },
  { sql: 'SELECT "schema_migrations"."version" FROM "schema_migrations" ORDER BY "schema_migrations"."version" ASC', label: R },
  {
    sql: `SELECT a.attname, format_type(a.atttypid, a.atttypmod),
       pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.atttypid, a.atttypmod,
       c.collname, col_description(a.attrelid, a.attnum) AS comment,
       attidentity AS identity,
       attgenerated as attgenerated
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  LEFT JOIN pg_type t ON a.atttypid = t.oid
  LEFT JOIN pg_collation c ON a.attcollation = c.oid AND a.attcollation <> t.typcollation
 WHERE a.attrelid = '"accounts"'::regclass
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`,
    label: R,
  },
  {
    sql: `SELECT c.relname FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY (current_schemas(false)) AND c.relname = 'accounts' AND c.relkind IN ('r','v','m','p','f')`,
    label: R,
  },
  {
    sql: `SELECT a.attname
  FROM (
         SELECT indrelid, indkey, generate_subscripts(indkey, 1) idx
           FROM pg_index
          WHERE indrelid = '"accounts"'::regclass
            AND indisprimary
       ) i
  JOIN pg_attribute a
    ON a.attrelid = i.indrelid
   AND a.attnum = i.indkey[i.idx]
 ORDER BY i.idx`,
    label: R,
  },
  {
    sql: `SELECT t.oid, t.typname, t.typelem, t.typdelim, t.typinput, r.rngsubtype, t.typtype, t.typbasetype FROM pg_type as t LEFT JOIN pg_range as r ON oid = rngtypid WHERE t.typname IN ('int2', 'int4', 'int8', 'oid', 'float4', 'float8', 'numeric', 'bool', 'timestamp', 'timestamptz') OR t.typtype IN ('r', 'e', 'd') OR t.typinput = 'array_in(cstring,oid,integer)'::regprocedure OR t.typelem != 0`,
    label: R,
  },
  { sql: 'SHOW search_path', label: R, reason: 'replica: SHOW' },
  { sql: "SET client_min_messages TO 'warning'", label: P, pins: ['set'] },
  { sql: 'SET intervalstyle = iso_8601', label: P, pins: ['set'] },
  { sql: 'INSERT INTO "accounts" ("name", "email", "created_at") VALUES ($1, $2, $3) RETURNING "id"', label: P, params: ['r', 'r@example.com', '2024-01-01'] },
  { sql: 'UPDATE "accounts" SET "balance" = $1 WHERE "accounts"."id" = $2', label: P, params: [5, 1] },
  { sql: 'DELETE FROM "orders" WHERE "orders"."id" = $1', label: P, params: [-1] },
  { sql: 'SELECT "accounts".* FROM "accounts" WHERE "accounts"."id" = $1 LIMIT $2 FOR UPDATE', label: P, reason: 'primary: FOR UPDATE', params: [1, 1] },
  { sql: `INSERT INTO "accounts" ("id","name") VALUES (1, 'x') ON CONFLICT ("id") DO UPDATE SET "name"=excluded."name" RETURNING "id"`, label: P },
  { sql: 'SELECT pg_try_advisory_lock(4021719316405127735)', label: P, pins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
  { sql: 'SELECT pg_advisory_unlock(4021719316405127735)', label: P, reason: 'primary: volatile function pg_advisory_unlock' },
];

/** SQLAlchemy (psycopg2 literals; asyncpg $n with casts). */
const SQLALCHEMY: CorpusEntry[] = [
  { sql: 'SELECT accounts.id, accounts.name, accounts.email FROM accounts WHERE accounts.id = 1', label: R },
  { sql: "SELECT accounts.id AS accounts_id, accounts.name AS accounts_name FROM accounts WHERE accounts.name = 'alice' LIMIT 1", label: R },
  { sql: 'SELECT accounts.id, accounts.name FROM accounts WHERE accounts.id = $1::BIGINT', label: R, params: [1] },
  { sql: 'select pg_catalog.version()', label: R },
  { sql: 'select current_schema()', label: R },
  { sql: 'show standard_conforming_strings', label: R },
  {
    sql: `SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relname = 'accounts' AND pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != 'pg_catalog'`,
    label: R,
  },
  {
    sql: `SELECT pg_catalog.pg_attribute.attname AS name, pg_catalog.format_type(pg_catalog.pg_attribute.atttypid, pg_catalog.pg_attribute.atttypmod) AS format_type, (SELECT pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid) AS pg_get_expr_1 FROM pg_catalog.pg_attrdef WHERE pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attrdef.adnum = pg_catalog.pg_attribute.attnum AND pg_catalog.pg_attribute.atthasdef) AS "default", pg_catalog.pg_attribute.attnotnull AS not_null, pg_catalog.pg_class.relname AS table_name, pg_catalog.pg_description.description AS comment, pg_catalog.pg_attribute.attgenerated AS generated, (SELECT json_build_object('always', pg_catalog.pg_attribute.attidentity = 'a', 'start', pg_catalog.pg_sequence.seqstart, 'increment', pg_catalog.pg_sequence.seqincrement) AS json_build_object_1 FROM pg_catalog.pg_attribute AS attr_1 JOIN pg_catalog.pg_sequence ON pg_catalog.pg_sequence.seqrelid = CAST(CAST(pg_catalog.pg_get_serial_sequence(CAST(CAST(pg_catalog.pg_attribute.attrelid AS REGCLASS) AS TEXT), pg_catalog.pg_attribute.attname) AS REGCLASS) AS OID) WHERE attr_1.attrelid = pg_catalog.pg_attribute.attrelid AND attr_1.attnum = pg_catalog.pg_attribute.attnum AND pg_catalog.pg_attribute.attidentity != '') AS identity_options FROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_attribute ON pg_catalog.pg_class.oid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attribute.attnum > 0 AND NOT pg_catalog.pg_attribute.attisdropped LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_description.objsubid = pg_catalog.pg_attribute.attnum JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != 'pg_catalog' AND pg_catalog.pg_class.relname IN ('accounts') ORDER BY pg_catalog.pg_class.relname, pg_catalog.pg_attribute.attnum`,
    label: R,
  },
  { sql: 'SELECT count(*) AS count_1 FROM (SELECT accounts.id AS accounts_id FROM accounts) AS anon_1', label: R },
  {
    sql: 'SELECT accounts.id AS accounts_id, orders_1.id AS orders_1_id, orders_1.total AS orders_1_total FROM accounts LEFT OUTER JOIN orders AS orders_1 ON accounts.id = orders_1.account_id ORDER BY orders_1.id',
    label: R,
  },
  { sql: 'SELECT orders.account_id AS orders_account_id, orders.id AS orders_id FROM orders WHERE orders.account_id IN (1, 2)', label: R },
  { sql: 'SELECT accounts.id FROM accounts WHERE accounts.id = 1 FOR UPDATE OF accounts NOWAIT', label: P, reason: 'primary: FOR UPDATE' },
  { sql: "INSERT INTO accounts (name, email) VALUES ('s', NULL) RETURNING accounts.id", label: P },
  {
    sql: "INSERT INTO orders (account_id, status) SELECT p0::BIGINT, p1::VARCHAR FROM (VALUES (1, 'a', 0), (2, 'b', 1)) AS imp_sen(p0, p1, sen_counter) ORDER BY sen_counter RETURNING orders.id, orders.id AS id__1",
    label: P,
    reason: 'primary: INSERT',
  },
  { sql: "select nextval('counter_seq')", label: P, reason: 'primary: volatile function nextval' },
];

/** Hibernate 6 over pgJDBC (server-prepared: `?` becomes $n), and pgJDBC's own metadata queries. */
const HIBERNATE: CorpusEntry[] = [
  { sql: 'select a1_0.id,a1_0.balance,a1_0.created_at,a1_0.email,a1_0.name from accounts a1_0 where a1_0.id=$1', label: R, params: [1] },
  { sql: 'select o1_0.account_id,o1_0.id,o1_0.placed_at,o1_0.status,o1_0.total from orders o1_0 where o1_0.account_id=$1', label: R, params: [1] },
  { sql: "select a1_0.id,a1_0.name from accounts a1_0 where a1_0.name like $1 escape '\\' order by a1_0.name offset $2 rows fetch first $3 rows only", label: R, params: ['a%', 0, 10] },
  { sql: 'select count(*) from orders o1_0 where o1_0.status=$1', label: R, params: ['open'] },
  { sql: 'insert into accounts (balance,created_at,email,name,id) values ($1,$2,$3,$4,$5)', label: P, params: [0, '2024-01-01', null, 'h', 900] },
  { sql: 'update accounts set balance=$1,name=$2 where id=$3', label: P, params: [1, 'h', 1] },
  { sql: 'select a1_0.id from accounts a1_0 where a1_0.id=$1 for no key update', label: P, reason: 'primary: FOR NO KEY UPDATE', params: [1] },
  { sql: 'select a1_0.id from accounts a1_0 where a1_0.id=$1 for share', label: P, reason: 'primary: FOR SHARE', params: [1] },
  {
    sql: `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND c.relname LIKE 'accounts'  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME `,
    label: R,
  },
  {
    sql: `SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = $1  ORDER BY sp.r, pg_type.oid DESC`,
    label: R,
    params: [25],
  },
  { sql: 'SET extra_float_digits = 3', label: P, pins: ['set'] },
  { sql: "SET application_name = 'PostgreSQL JDBC Driver'", label: P, pins: ['set'] },
];

/** Prisma (query engine, $n binds). */
const PRISMA: CorpusEntry[] = [
  {
    sql: 'SELECT "public"."accounts"."id", "public"."accounts"."email", "public"."accounts"."name" FROM "public"."accounts" WHERE ("public"."accounts"."email" = $1 AND 1=1) LIMIT $2 OFFSET $3',
    label: R,
    params: ['alice@example.com', 1, 0],
  },
  { sql: 'SELECT "public"."orders"."id", "public"."orders"."account_id" FROM "public"."orders" WHERE "public"."orders"."account_id" IN ($1,$2) OFFSET $3', label: R, params: [1, 2, 0] },
  { sql: 'SELECT COUNT(*) AS "_count$_all" FROM (SELECT "public"."orders"."id" FROM "public"."orders" WHERE 1=1 OFFSET $1) AS "sub"', label: R, params: [0] },
  {
    sql: `SELECT "t1"."id", "t1"."name", "accounts_orders"."__prisma_data__" AS "orders" FROM "public"."accounts" AS "t1" LEFT JOIN LATERAL (SELECT COALESCE(JSONB_AGG("__prisma_data__"), '[]') AS "__prisma_data__" FROM (SELECT "t4"."__prisma_data__" FROM (SELECT JSONB_BUILD_OBJECT('id', "t3"."id", 'total', "t3"."total") AS "__prisma_data__" FROM (SELECT "t2".* FROM "public"."orders" AS "t2" WHERE "t1"."id" = "t2"."account_id") AS "t3") AS "t4") AS "t5") AS "accounts_orders" ON true WHERE "t1"."id" = $1 LIMIT $2`,
    label: R,
    params: [1, 1],
  },
  {
    sql: 'SELECT "id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at", "applied_steps_count" FROM "_prisma_migrations" ORDER BY "started_at" ASC',
    label: R,
  },
  { sql: 'INSERT INTO "public"."accounts" ("name","email") VALUES ($1,$2) RETURNING "public"."accounts"."id", "public"."accounts"."name"', label: P, params: ['p', null] },
  { sql: 'UPDATE "public"."accounts" SET "name" = $1 WHERE ("public"."accounts"."id" = $2 AND 1=1) RETURNING "public"."accounts"."id"', label: P, params: ['p', 1] },
  { sql: 'SELECT pg_advisory_lock(72707369)', label: P, pins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
];

/** Sequelize (node-postgres; trailing semicolons, bind parameters). */
const SEQUELIZE: CorpusEntry[] = [
  { sql: 'SELECT "id", "name", "email", "created_at" FROM "accounts" AS "accounts" WHERE "accounts"."id" = 1;', label: R },
  { sql: 'SELECT "id", "name" FROM "accounts" AS "accounts" WHERE "accounts"."id" = 1 LIMIT 1;', label: R },
  { sql: `SELECT count(*) AS "count" FROM "orders" AS "orders" WHERE "orders"."status" = 'open';`, label: R },
  {
    sql: 'SELECT "accounts"."id", "accounts"."name", "orders"."id" AS "orders.id", "orders"."total" AS "orders.total" FROM "accounts" AS "accounts" LEFT OUTER JOIN "orders" AS "orders" ON "accounts"."id" = "orders"."account_id";',
    label: R,
  },
  {
    sql: `SELECT pk.constraint_type as "Constraint",c.column_name as "Field", c.column_default as "Default",c.is_nullable as "Null", (CASE WHEN c.udt_name = 'hstore' THEN c.udt_name ELSE c.data_type END) || (CASE WHEN c.character_maximum_length IS NOT NULL THEN '(' || c.character_maximum_length || ')' ELSE '' END) as "Type", (SELECT array_agg(e.enumlabel) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_enum e ON t.oid=e.enumtypid WHERE t.typname=c.udt_name) AS "special", (SELECT pgd.description FROM pg_catalog.pg_statio_all_tables AS st INNER JOIN pg_catalog.pg_description pgd on (pgd.objoid=st.relid) WHERE c.ordinal_position=pgd.objsubid AND c.table_name=st.relname) AS "Comment" FROM information_schema.columns c LEFT JOIN (SELECT tc.table_schema, tc.table_name, cu.column_name, tc.constraint_type FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.KEY_COLUMN_USAGE  cu ON tc.table_schema=cu.table_schema and tc.table_name=cu.table_name and tc.constraint_name=cu.constraint_name and tc.constraint_type='PRIMARY KEY') pk ON pk.table_schema=c.table_schema AND pk.table_name=c.table_name AND pk.column_name=c.column_name WHERE c.table_name = 'accounts' AND c.table_schema = 'public'`,
    label: R,
  },
  { sql: `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type LIKE '%TABLE' AND table_name != 'spatial_ref_sys';`, label: R },
  { sql: 'SELECT 1+1 AS result', label: R },
  { sql: 'SHOW SERVER_VERSION', label: R },
  {
    sql: 'INSERT INTO "accounts" ("id","name","email","created_at") VALUES (DEFAULT,$1,$2,$3) RETURNING "id","name","email","balance","created_at","tags","data";',
    label: P,
    params: ['seq', 'seq@example.com', '2024-01-01'],
  },
  { sql: 'UPDATE "accounts" SET "name"=$1 WHERE "id" = $2', label: P, params: ['seq', 1] },
  { sql: 'SELECT "id" FROM "accounts" AS "accounts" WHERE "accounts"."id" = 1 FOR UPDATE;', label: P, reason: 'primary: FOR UPDATE' },
  { sql: 'START TRANSACTION;', label: P, reason: 'primary: BEGIN', run: 'alone', after: ['ROLLBACK'] },
];

/** TypeORM. */
const TYPEORM: CorpusEntry[] = [
  { sql: 'SELECT "Account"."id" AS "Account_id", "Account"."name" AS "Account_name" FROM "accounts" "Account" WHERE ("Account"."id" = $1) LIMIT 1', label: R, params: [1] },
  {
    sql: 'SELECT DISTINCT "distinctAlias"."Account_id" AS "ids_Account_id" FROM (SELECT "Account"."id" AS "Account_id", "Account"."name" AS "Account_name" FROM "accounts" "Account" LEFT JOIN "orders" "Order" ON "Order"."account_id"="Account"."id") "distinctAlias" ORDER BY "ids_Account_id" ASC LIMIT 10',
    label: R,
  },
  { sql: 'SELECT * FROM current_schema()', label: R },
  { sql: 'SELECT version();', label: R },
  { sql: `SELECT * FROM "information_schema"."tables" WHERE "table_schema" = 'public' AND "table_name" = 'typeorm_metadata'`, label: R },
  { sql: `SELECT * FROM "pg_extension" WHERE "extname" = 'uuid-ossp'`, label: R },
  {
    sql: 'INSERT INTO "accounts"("name", "email", "balance", "created_at", "tags", "data") VALUES ($1, $2, DEFAULT, DEFAULT, DEFAULT, DEFAULT) RETURNING "id", "balance", "created_at"',
    label: P,
    params: ['t', null],
  },
  { sql: 'SELECT "Account"."id" AS "Account_id" FROM "accounts" "Account" WHERE "Account"."id" = $1 FOR UPDATE', label: P, reason: 'primary: FOR UPDATE', params: [1] },
  { sql: 'START TRANSACTION', label: P, reason: 'primary: BEGIN', run: 'alone', after: ['ROLLBACK'] },
];

/** Ecto / Postgrex, and Oban's job fetch. */
const ECTO: CorpusEntry[] = [
  { sql: 'SELECT a0."id", a0."name", a0."email" FROM "accounts" AS a0 WHERE (a0."id" = $1)', label: R, params: [1] },
  { sql: 'SELECT TRUE FROM "accounts" AS a0 WHERE (a0."email" = $1) LIMIT 1', label: R, params: ['alice@example.com'] },
  { sql: 'SELECT count(*) FROM "orders" AS o0 WHERE (o0."status" = $1)', label: R, params: ['open'] },
  { sql: 'SELECT o0."id", o0."account_id", o0."total", o0."account_id" FROM "orders" AS o0 WHERE (o0."account_id" = ANY($1)) ORDER BY o0."account_id"', label: R, params: [[1, 2]] },
  { sql: 'SELECT s0."version"::bigint FROM "schema_migrations" AS s0', label: R },
  {
    sql: `SELECT t.oid, t.typname, t.typsend, t.typreceive, t.typoutput, t.typinput,
       coalesce(d.typelem, t.typelem), coalesce(r.rngsubtype, 0), ARRAY (
  SELECT a.atttypid
  FROM pg_attribute AS a
  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY a.attnum
)
FROM pg_type AS t
LEFT JOIN pg_type AS d ON t.typbasetype = d.oid
LEFT JOIN pg_range AS r ON r.rngtypid = t.oid OR r.rngmultitypid = t.oid OR (t.typbasetype <> 0 AND r.rngtypid = t.typbasetype)
WHERE (t.typrelid = 0)
AND (t.typelem = 0 OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type s WHERE s.typrelid != 0 AND s.oid = t.typelem))`,
    label: R,
  },
  { sql: 'INSERT INTO "accounts" ("name","email") VALUES ($1,$2) RETURNING "id"', label: P, params: ['e', null] },
  { sql: 'UPDATE "accounts" AS a0 SET "balance" = a0."balance" + $1 WHERE (a0."id" = $2)', label: P, params: [1, 1] },
  { sql: 'SELECT a0."id" FROM "accounts" AS a0 WHERE (a0."id" = $1) FOR UPDATE', label: P, reason: 'primary: FOR UPDATE', params: [1] },
  { sql: 'LOCK TABLE "schema_migrations" IN SHARE UPDATE EXCLUSIVE MODE', label: P, reason: 'primary: LOCK', standbyRefuses: true },
  {
    sql: `WITH "subset" AS (SELECT ss0."id" AS "id" FROM "public"."orders" AS ss0 WHERE (ss0."status" = 'open') ORDER BY ss0."id" LIMIT $1 FOR UPDATE SKIP LOCKED) UPDATE "public"."orders" AS o0 SET "status" = $2 FROM "subset" AS f1 WHERE (o0."id" = f1."id") RETURNING o0."id", o0."status"`,
    label: P,
    reason: 'primary: UPDATE',
    params: [1, 'executing'],
  },
  { sql: 'SELECT pg_notify($1, $2)', label: P, reason: 'primary: volatile function pg_notify', params: ['oban_insert', '{}'] },
];

/** Drivers' own queries (type introspection, session checks) and sqlc-generated ones. */
const DRIVERS: CorpusEntry[] = [
  {
    sql: 'SELECT typname AS name, oid, typarray AS array_oid, oid::regtype::text AS regtype, typdelim AS delimiter FROM pg_type t WHERE t.oid = to_regtype($1) ORDER BY t.oid',
    label: R,
    params: ['mood'],
  },
  {
    sql: `WITH RECURSIVE typeinfo_tree(
    oid, ns, name, kind, basetype, elemtype, elemdelim,
    range_subtype, attrtypoids, attrnames, depth)
AS (
    SELECT
        ti.oid, ti.ns, ti.name, ti.kind, ti.basetype,
        ti.elemtype, ti.elemdelim, ti.range_subtype,
        ti.attrtypoids, ti.attrnames, 0
    FROM
        (SELECT t.oid AS oid, ns.nspname AS ns, t.typname AS name, t.typtype AS kind,
                (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE NULL END) AS basetype,
                t.typelem AS elemtype, elem_t.typdelim AS elemdelim, range_t.rngsubtype AS range_subtype,
                (CASE WHEN t.typtype = 'c' THEN
                    (SELECT array_agg(ia.atttypid ORDER BY ia.attnum) FROM pg_attribute ia
                     INNER JOIN pg_class c ON (ia.attrelid = c.oid)
                     WHERE ia.attnum > 0 AND NOT ia.attisdropped AND c.reltype = t.oid)
                END) AS attrtypoids,
                (CASE WHEN t.typtype = 'c' THEN
                    (SELECT array_agg(ia.attname::text ORDER BY ia.attnum) FROM pg_attribute ia
                     INNER JOIN pg_class c ON (ia.attrelid = c.oid)
                     WHERE ia.attnum > 0 AND NOT ia.attisdropped AND c.reltype = t.oid)
                END) AS attrnames
            FROM pg_catalog.pg_type AS t
                INNER JOIN pg_catalog.pg_namespace ns ON (ns.oid = t.typnamespace)
                LEFT JOIN pg_type elem_t ON (t.typlen = -1 AND t.typelem != 0 AND t.typelem = elem_t.oid)
                LEFT JOIN pg_range range_t ON (t.oid = range_t.rngtypid)
        ) AS ti
    WHERE ti.oid = any($1::oid[])
    UNION ALL
    SELECT
        ti.oid, ti.ns, ti.name, ti.kind, ti.basetype,
        ti.elemtype, ti.elemdelim, ti.range_subtype,
        ti.attrtypoids, ti.attrnames, tt.depth + 1
    FROM
        (SELECT t.oid AS oid, ns.nspname AS ns, t.typname AS name, t.typtype AS kind,
                NULL::oid AS basetype, t.typelem AS elemtype, NULL::"char" AS elemdelim,
                NULL::oid AS range_subtype, NULL::oid[] AS attrtypoids, NULL::text[] AS attrnames
            FROM pg_catalog.pg_type AS t
                INNER JOIN pg_catalog.pg_namespace ns ON (ns.oid = t.typnamespace)
        ) ti,
        typeinfo_tree tt
    WHERE
        (tt.elemtype IS NOT NULL AND ti.oid = tt.elemtype)
        OR (tt.attrtypoids IS NOT NULL AND ti.oid = any(tt.attrtypoids))
        OR (tt.range_subtype IS NOT NULL AND ti.oid = tt.range_subtype)
)
SELECT DISTINCT
    *,
    basetype::regtype::text AS basetype_name,
    elemtype::regtype::text AS elemtype_name,
    range_subtype::regtype::text AS range_subtype_name
FROM
    typeinfo_tree
ORDER BY
    depth DESC`,
    label: R,
    params: [[3904, 1007]],
  },
  { sql: '-- name: GetAccount :one\nSELECT id, name, email FROM accounts\nWHERE id = $1 LIMIT 1', label: R, params: [1] },
  { sql: '-- name: ListOrders :many\nSELECT id, account_id, status, total FROM orders\nORDER BY id', label: R },
  { sql: '-- name: CreateAccount :one\nINSERT INTO accounts (name, email) VALUES ($1, $2)\nRETURNING id, name, email', label: P, params: ['c', null] },
  // pgx's target_session_attrs=primary check: the primary must answer it.
  { sql: 'select pg_is_in_recovery()', label: P, reason: 'primary: volatile function pg_is_in_recovery', primaryAnswer: 'asks whether it reached the primary (pgx target_session_attrs=primary)' },
];

/** Migration tools and job queues. */
const TOOLS: CorpusEntry[] = [
  { sql: 'SELECT COUNT(*) FROM pg_namespace WHERE nspname=$1', label: R, params: ['public'] },
  {
    sql: 'SELECT "installed_rank","version","description","type","script","checksum","installed_on","installed_by","execution_time","success" FROM "public"."flyway_schema_history" WHERE "installed_rank" > $1 ORDER BY "installed_rank"',
    label: R,
    params: [0],
  },
  { sql: 'SELECT pg_try_advisory_xact_lock(77431708279161)', label: P, reason: 'primary: volatile function pg_try_advisory_xact_lock' },
  { sql: 'SELECT LOCKED FROM public.databasechangeloglock WHERE ID=1', label: R },
  { sql: `UPDATE public.databasechangeloglock SET LOCKED = TRUE, LOCKGRANTED = NOW(), LOCKEDBY = 'host (10.0.0.1)' WHERE ID = 1 AND LOCKED = FALSE`, label: P },
  {
    sql: `SELECT "orders".* FROM "orders" WHERE "orders"."id" IN (WITH "rows" AS MATERIALIZED (SELECT "orders"."id" FROM "orders" WHERE "orders"."status" = 'open' ORDER BY id ASC LIMIT 2) SELECT "rows"."id" FROM "rows" WHERE pg_try_advisory_lock(('x' || substr(md5('orders' || '-' || "rows"."id"::text), 1, 16))::bit(64)::bigint) LIMIT 1)`,
    label: P,
    reason: 'primary: volatile function pg_try_advisory_lock',
    pins: ['advisory-lock'],
    after: ['SELECT pg_advisory_unlock_all()'],
  },
  { sql: "SELECT pg_try_advisory_xact_lock(hashtext('orders-job'))", label: P },
  { sql: "SELECT pg_advisory_lock(hashtext('migrations'))", label: P, pins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
];

/** psql's \d commands (PostgreSQL 15's describe.c), and its tab completion. */
const PSQL: CorpusEntry[] = [
  {
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
    label: R,
  },
  {
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','S','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
    label: R,
  },
  {
    sql: `SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(accounts)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
    label: R,
  },
  {
    sql: `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '16385';`,
    label: R,
  },
  {
    sql: `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16385' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
    label: R,
  },
  {
    sql: `SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '16385' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
    label: R,
  },
  {
    sql: `SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('accounts')
                     UNION ALL VALUES ('accounts'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;`,
    label: R,
  },
  {
    sql: `SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '16385' ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='16385' and pg_catalog.pg_relation_is_publishable('16385')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '16385'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('16385')
ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS "Access privileges",
       CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT')
            THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname))
            ELSE 'No Access'
       END as "Size",
       t.spcname as "Tablespace",
       pg_catalog.shobj_description(d.oid, 'pg_database') as "Description"
FROM pg_catalog.pg_database d
  JOIN pg_catalog.pg_tablespace t on d.dattablespace = t.oid
ORDER BY 1;`,
    label: R,
    pg: 15,
  },
  {
    sql: `SELECT r.rolname, r.rolsuper, r.rolinherit,
  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname
        FROM pg_catalog.pg_auth_members m
        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof
, r.rolreplication
, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;`,
    label: R,
  },
  {
    sql: `SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema", c.description AS "Description"
FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass
ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT pg_catalog.format_type(seqtypid, NULL) AS "Type",
       seqstart AS "Start",
       seqmin AS "Minimum",
       seqmax AS "Maximum",
       seqincrement AS "Increment",
       CASE WHEN seqcycle THEN 'yes' ELSE 'no' END AS "Cycles?",
       seqcache AS "Cache"
FROM pg_catalog.pg_sequence
WHERE seqrelid = '16400';`,
    label: R,
  },
  {
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' END as "Type",
  pg_catalog.array_to_string(c.relacl, E'\\n') AS "Access privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT attname || E':\\n  ' || pg_catalog.array_to_string(attacl, E'\\n  ')
    FROM pg_catalog.pg_attribute a
    WHERE attrelid = c.oid AND NOT attisdropped AND attacl IS NOT NULL
  ), E'\\n') AS "Column privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT polname
    || CASE WHEN NOT polpermissive THEN
       E' (RESTRICTIVE)'
       ELSE '' END
    || CASE WHEN polcmd != '*' THEN
           E' (' || polcmd::pg_catalog.text || E'):'
       ELSE E':'
       END
    || CASE WHEN polqual IS NOT NULL THEN
           E'\\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid)
       ELSE E''
       END
    FROM pg_catalog.pg_policy pol
    WHERE polrelid = c.oid), E'\\n')
    AS "Policies"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','v','m','S','f','p')
  AND n.nspname !~ '^pg_' AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1, 2;`,
    label: R,
  },
  { sql: `SELECT 'add_tax'::pg_catalog.regproc::pg_catalog.oid`, label: R },
  { sql: `SELECT pg_catalog.pg_get_functiondef('add_tax'::pg_catalog.regproc::pg_catalog.oid)`, label: R },
  {
    sql: `SELECT s.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"
FROM pg_catalog.pg_settings s
WHERE s.source <> 'default' AND
      s.setting IS DISTINCT FROM s.boot_val
ORDER BY 1;`,
    label: R,
  },
  {
    sql: `SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND substring(pg_catalog.quote_ident(c.relname),1,2)='ac' AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog')
UNION
SELECT pg_catalog.quote_ident(n.nspname) || '.' FROM pg_catalog.pg_namespace n WHERE substring(pg_catalog.quote_ident(n.nspname) || '.',1,2)='ac' AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace WHERE substring(pg_catalog.quote_ident(nspname) || '.',1,2) = substring('ac',1,pg_catalog.length(pg_catalog.quote_ident(nspname))+1)) > 1
LIMIT 1000`,
    label: R,
  },
];

/** pg_dump (PostgreSQL 15) inside its REPEATABLE READ, READ ONLY transaction. */
const PG_DUMP: CorpusEntry[] = [
  { sql: "SELECT pg_catalog.set_config('search_path', '', false);", label: P, reason: 'primary: volatile function set_config', pins: ['set'] },
  { sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', label: P, reason: 'primary: SET TRANSACTION' },
  {
    sql: `SELECT tableoid, oid, nspname, (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = nspowner) AS rolname, nspacl, acldefault('n', nspowner) AS acldefault FROM pg_namespace`,
    label: R,
  },
  { sql: `SELECT oid, lomowner, lomacl, acldefault('L', lomowner) AS acldefault FROM pg_largeobject_metadata`, label: R },
  {
    sql: `SELECT c.tableoid, c.oid, c.relname, c.relnamespace, c.relkind, c.reltype, c.relowner, c.relchecks, c.relhasindex, c.relhasrules, c.relpages, c.relhastriggers, c.relpersistence, c.reloftype, c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner) AS acldefault, CASE WHEN c.relkind = 'f' THEN (SELECT ftserver FROM pg_catalog.pg_foreign_table WHERE ftrelid = c.oid) ELSE 0 END AS foreignserver, c.relfrozenxid, tc.relfrozenxid AS tfrozenxid, tc.oid AS toid, tc.relpages AS toastpages, tc.reloptions AS toast_reloptions, d.refobjid AS owning_tab, d.refobjsubid AS owning_col, tsp.spcname AS reltablespace, false AS relhasoids, c.relispopulated, c.relreplident, c.relrowsecurity, c.relforcerowsecurity, c.relminmxid, tc.relminmxid AS tminmxid, array_remove(array_remove(c.reloptions,'check_option=local'),'check_option=cascaded') AS reloptions, CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL'::text WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED'::text ELSE NULL END AS checkoption, am.amname, (d.deptype = 'i') IS TRUE AS is_identity_sequence, c.relispartition AS ispartition FROM pg_class c LEFT JOIN pg_depend d ON (c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.objsubid = 0 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) LEFT JOIN pg_tablespace tsp ON (tsp.oid = c.reltablespace) LEFT JOIN pg_am am ON (c.relam = am.oid) LEFT JOIN pg_class tc ON (c.reltoastrelid = tc.oid AND c.relkind <> 'p') WHERE c.relkind IN ('r', 'S', 'v', 'c', 'm', 'f', 'p') ORDER BY c.oid`,
    label: R,
  },
  { sql: 'SELECT x.tableoid, x.oid, x.extname, n.nspname, x.extrelocatable, x.extversion, x.extconfig, x.extcondition FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace', label: R },
  { sql: 'LOCK TABLE public.accounts IN ACCESS SHARE MODE', label: P, reason: 'primary: LOCK' },
  { sql: 'SELECT last_value, is_called FROM public.counter_seq', label: R },
  { sql: "SELECT pg_catalog.pg_get_viewdef('big_accounts'::pg_catalog.regclass) AS viewdef", label: R },
  { sql: 'COPY public.accounts (id, name, email, balance, created_at, tags, data) TO stdout;', label: R, reason: 'replica: COPY TO STDOUT' },
];

/** pgAdmin 4 and DBeaver. */
const GUI: CorpusEntry[] = [
  {
    sql: `SELECT db.oid as did, db.datname, db.datallowconn, pg_catalog.pg_encoding_to_char(db.encoding) AS serverencoding, pg_catalog.has_database_privilege(db.oid, 'CREATE') as cancreate, datistemplate FROM pg_catalog.pg_database db WHERE db.datname = current_database()`,
    label: R,
  },
  {
    sql: `SELECT 'session_stats' AS chart_name, pg_catalog.row_to_json(t) AS chart_data
FROM (SELECT
   (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384)) AS "Total",
   (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE state = 'active' AND datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384))  AS "Active",
   (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE state = 'idle' AND datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384))  AS "Idle"
) t
UNION ALL
SELECT 'tps_stats' AS chart_name, pg_catalog.row_to_json(t) AS chart_data
FROM (SELECT
   (SELECT sum(xact_commit) + sum(xact_rollback) FROM pg_catalog.pg_stat_database WHERE datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384)) AS "Transactions",
   (SELECT sum(xact_commit) FROM pg_catalog.pg_stat_database WHERE datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384)) AS "Commits",
   (SELECT sum(xact_rollback) FROM pg_catalog.pg_stat_database WHERE datname = (SELECT datname FROM pg_catalog.pg_database WHERE oid = 16384)) AS "Rollbacks"
) t`,
    label: R,
  },
  {
    sql: `SELECT pid, datname, usename, application_name, client_addr, pg_catalog.to_char(backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS backend_start, state, wait_event_type || ': ' || wait_event AS wait_event, array_to_string(pg_catalog.pg_blocking_pids(pid), ', ') AS blocking_pids, query, pg_catalog.to_char(state_change, 'YYYY-MM-DD HH24:MI:SS TZ') AS state_change, pg_catalog.to_char(query_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS query_start, pg_catalog.to_char(xact_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS xact_start, backend_type, CASE WHEN state = 'active' THEN ROUND((extract(epoch from now() - query_start) / 60)::numeric, 2) ELSE 0 END AS active_since FROM pg_catalog.pg_stat_activity ORDER BY pid`,
    label: R,
  },
  {
    sql: `SELECT l.locktype, d.datname, l.relation::regclass AS relation, l.page, l.tuple, l.virtualxid, l.transactionid, l.classid, l.objid, l.objsubid, l.virtualtransaction, l.pid, l.mode, l.granted, l.fastpath FROM pg_catalog.pg_locks l LEFT OUTER JOIN pg_catalog.pg_database d ON d.oid = l.database ORDER BY pid, locktype`,
    label: R,
  },
  {
    sql: `SELECT seq_scan AS "Sequential scans", seq_tup_read AS "Sequential tuples read", idx_scan AS "Index scans", n_tup_ins AS "Tuples inserted", n_live_tup AS "Live tuples", n_dead_tup AS "Dead tuples", last_vacuum AS "Last vacuum", last_autoanalyze AS "Last autoanalyze", pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(stat.relid)) AS "Table size", CASE WHEN cl.reltoastrelid = 0 THEN NULL ELSE pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(cl.reltoastrelid) + COALESCE((SELECT SUM(pg_catalog.pg_relation_size(indexrelid)) FROM pg_catalog.pg_index WHERE indrelid=cl.reltoastrelid)::int8, 0)) END AS "Toast table size", pg_catalog.pg_size_pretty(COALESCE((SELECT SUM(pg_catalog.pg_relation_size(indexrelid)) FROM pg_catalog.pg_index WHERE indrelid=stat.relid)::int8, 0)) AS "Indexes size" FROM pg_catalog.pg_stat_all_tables stat JOIN pg_catalog.pg_statio_all_tables statio ON stat.relid = statio.relid JOIN pg_catalog.pg_class cl ON cl.oid=stat.relid WHERE stat.relid = 'accounts'::regclass`,
    label: R,
  },
  // pgAdmin asks whether the server is in recovery: the primary answers for pgmux.
  {
    sql: `SELECT CASE WHEN usesuper THEN pg_catalog.pg_is_in_recovery() ELSE NULL END as inrecovery, CASE WHEN usesuper AND pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() ELSE NULL END as isreplaypaused FROM pg_catalog.pg_user WHERE usename=current_user`,
    label: P,
    reason: 'primary: volatile function pg_is_in_recovery',
    primaryAnswer: 'asks whether the server it reached is in recovery',
  },
  { sql: 'SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datallowconn AND NOT datistemplate OR db.datname =$1 ORDER BY db.datname', label: R, params: ['app'] },
  {
    sql: `SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n left outer join pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass ORDER BY nspname`,
    label: R,
  },
  {
    sql: `SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.relpartbound is not null then pg_get_expr(c.relpartbound, c.oid) end as partition_expr, case when c.relpartbound is not null then pg_get_partkeydef(c.oid) end as partition_key from pg_catalog.pg_class c left outer join pg_catalog.pg_class t on c.reltoastrelid=t.oid left outer join pg_catalog.pg_class rt on rt.oid=c.reltoastrelid left outer join pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass where c.relnamespace=$1 AND c.relkind not in ('i','I','c')`,
    label: R,
    params: [2200],
  },
  { sql: 'select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_class c WHERE c.relnamespace=$1', label: R, params: [2200] },
  { sql: 'SELECT current_schema(),session_user', label: R },
  {
    sql: `SELECT string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc}'::text[])`,
    label: R,
  },
  { sql: 'select * from pg_catalog.pg_settings where name=$1', label: R, params: ['standard_conforming_strings'] },
  { sql: "SET application_name = 'DBeaver 23.3.0 - Main <app>'", label: P, pins: ['set'] },
];

/** Grafana and Metabase. */
const DASHBOARDS: CorpusEntry[] = [
  {
    sql: `SELECT floor(extract(epoch from placed_at)/60)*60 AS "time", avg(total) AS "avg_total" FROM orders WHERE placed_at BETWEEN '2020-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z' GROUP BY 1 ORDER BY 1`,
    label: R,
  },
  {
    sql: `SELECT date_trunc('hour', placed_at) AS "time", count(*) FROM orders WHERE placed_at >= to_timestamp(1700000000) AND placed_at <= to_timestamp(4100000000) GROUP BY 1 ORDER BY 1`,
    label: R,
  },
  {
    sql: `SELECT quote_ident(table_name) FROM information_schema.tables WHERE ( table_schema IN ( SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END FROM generate_series( array_lower(string_to_array(current_setting('search_path'),','),1), array_upper(string_to_array(current_setting('search_path'),','),1) ) as i, string_to_array(current_setting('search_path'),',') s ) ) ORDER BY table_name`,
    label: R,
  },
  {
    sql: `SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns WHERE CASE WHEN array_length(parse_ident('accounts'),1) = 2 THEN quote_ident(table_schema) = (parse_ident('accounts'))[1] AND quote_ident(table_name) = (parse_ident('accounts'))[2] ELSE quote_ident(table_name) = 'accounts' AND table_schema IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), array_upper(string_to_array(current_setting('search_path'),','),1)) as i, string_to_array(current_setting('search_path'),',') s) END`,
    label: R,
  },
  { sql: 'SELECT "public"."accounts"."id" AS "id", "public"."accounts"."name" AS "name", "public"."accounts"."email" AS "email" FROM "public"."accounts" LIMIT 2000', label: R },
  { sql: 'SELECT TRUE AS "_" FROM "public"."accounts" WHERE 1 <> 1 LIMIT 0', label: R },
  {
    sql: 'SELECT "source"."status" AS "status", COUNT(*) AS "count" FROM (SELECT "public"."orders"."status" AS "status" FROM "public"."orders") AS "source" GROUP BY "source"."status" ORDER BY "count" DESC, "source"."status" ASC LIMIT 1048575',
    label: R,
  },
  {
    sql: `SELECT DATE_TRUNC('month', "public"."orders"."placed_at") AS "placed_at", SUM("public"."orders"."total") AS "sum" FROM "public"."orders" GROUP BY DATE_TRUNC('month', "public"."orders"."placed_at") ORDER BY DATE_TRUNC('month', "public"."orders"."placed_at") ASC`,
    label: R,
  },
  {
    sql: `SELECT n.nspname AS schema, c.relname AS name, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS type, d.description AS description, stat.n_live_tup AS estimated_row_count FROM pg_catalog.pg_class AS c INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid LEFT JOIN pg_catalog.pg_description AS d ON (c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass) LEFT JOIN pg_stat_user_tables AS stat ON (n.nspname = stat.schemaname AND c.relname = stat.relname) WHERE c.relnamespace = n.oid AND n.nspname !~ '^information_schema|catalog_history|pg_' AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND n.nspname IN ('public') ORDER BY type, schema, name`,
    label: R,
  },
  { sql: "SET SESSION TIMEZONE TO 'UTC'", label: P, pins: ['set'] },
];

/** postgres_exporter's and Datadog's metric queries. */
const MONITORING: CorpusEntry[] = [
  { sql: 'SELECT pg_database.datname, pg_database_size(pg_database.datname) as bytes FROM pg_database', label: R },
  {
    sql: 'SELECT datid, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes, deadlocks, blk_read_time, blk_write_time, stats_reset FROM pg_stat_database',
    label: R,
  },
  { sql: 'SELECT pg_postmaster_start_time as start_time_seconds from pg_postmaster_start_time()', label: R },
  { sql: "SELECT name, setting, COALESCE(unit, ''), short_desc, vartype FROM pg_settings WHERE vartype IN ('bool', 'integer', 'real') AND name != 'sync_commit_cancel_wait'", label: R },
  {
    sql: `SELECT pg_database.datname,tmp.mode,COALESCE(count,0) as count FROM ( VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'), ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'), ('sireadlock') ) AS tmp(mode) CROSS JOIN pg_database LEFT JOIN (SELECT database, lower(mode) AS mode,count(*) AS count FROM pg_locks WHERE database IS NOT NULL GROUP BY database, lower(mode) ) AS tmp2 ON tmp.mode=tmp2.mode and pg_database.oid = tmp2.database ORDER BY 1`,
    label: R,
  },
  {
    sql: `SELECT pg_database.datname, tmp.state, tmp2.usename, tmp2.application_name, COALESCE(count,0) as count, COALESCE(max_tx_duration,0) as max_tx_duration FROM ( VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'), ('fastpath function call'), ('disabled') ) AS tmp(state) CROSS JOIN pg_database LEFT JOIN ( SELECT datname, state, usename, application_name, count(*) AS count, MAX(EXTRACT(EPOCH FROM now() - xact_start))::float AS max_tx_duration FROM pg_stat_activity GROUP BY datname,state,usename,application_name) AS tmp2 ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname`,
    label: R,
  },
  {
    sql: 'SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, buffers_alloc, stats_reset FROM pg_stat_bgwriter',
    label: R,
  },
  {
    sql: `SELECT current_database() datname, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze, COALESCE(last_vacuum, '1970-01-01Z') as last_vacuum, COALESCE(last_autovacuum, '1970-01-01Z') as last_autovacuum, vacuum_count, autovacuum_count, analyze_count, autoanalyze_count, pg_total_relation_size(relid) as total_size FROM pg_stat_user_tables`,
    label: R,
  },
  { sql: 'SELECT count(*) AS segments, sum(size) AS bytes FROM pg_ls_waldir()', label: R },
  {
    sql: `SELECT relname, schemaname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, vacuum_count, autovacuum_count, analyze_count, autoanalyze_count FROM pg_stat_user_tables WHERE relname = ANY(array['accounts','orders'])`,
    label: R,
  },
  { sql: "SELECT current_setting('max_connections')::int AS max_connections, count(*) AS connections FROM pg_stat_activity", label: R },
  {
    sql: `SELECT schemaname, sequencename, last_value, CASE WHEN increment_by > 0 THEN max_value ELSE min_value END AS limit_value FROM pg_sequences`,
    label: R,
  },
  {
    sql: `SELECT n.nspname, c.relname, pg_sequence_last_value(c.oid) AS last_value FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S'`,
    label: R,
  },
  // Replication lag, asked the way exporters do: pg_is_in_recovery() decides, so the primary answers.
  {
    sql: `SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 WHEN pg_last_wal_receive_lsn () = pg_last_wal_replay_lsn () THEN 0 ELSE GREATEST (0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))) END AS lag, CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END as is_replica`,
    label: P,
    reason: 'primary: volatile function pg_is_in_recovery',
    primaryAnswer: 'asks whether the server it reached is in recovery',
  },
  {
    sql: `SELECT *, (case pg_is_in_recovery() when 't' then pg_last_wal_receive_lsn() else pg_current_wal_lsn() end) AS pg_current_wal_lsn, (case pg_is_in_recovery() when 't' then pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_lsn('0/0'))::float else pg_wal_lsn_diff(pg_current_wal_lsn(), pg_lsn('0/0'))::float end) AS pg_current_wal_lsn_bytes, (case pg_is_in_recovery() when 't' then pg_wal_lsn_diff(pg_last_wal_receive_lsn(), replay_lsn)::float else pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float end) AS pg_wal_lsn_diff FROM pg_stat_replication`,
    label: P,
    reason: 'primary: volatile function pg_current_wal_lsn',
    primaryAnswer: "lists the primary's WAL senders, which a standby does not have",
  },
  {
    sql: `SELECT slot_name, database, active, (case pg_is_in_recovery() when 't' then pg_wal_lsn_diff(pg_last_wal_receive_lsn(), restart_lsn) else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) end) as pg_wal_lsn_diff FROM pg_replication_slots`,
    label: P,
    reason: 'primary: volatile function pg_current_wal_lsn',
    reads: 'names pg_current_wal_lsn(), which a standby refuses (a CASE keeps it from running there)',
  },
  {
    sql: `SELECT CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ELSE GREATEST (0, EXTRACT (EPOCH FROM now() - pg_last_xact_replay_timestamp())) END, abs(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())) AS replication_delay_bytes WHERE (SELECT pg_is_in_recovery())`,
    label: P,
    reason: 'primary: volatile function pg_is_in_recovery',
    primaryAnswer: 'asks whether the server it reached is in recovery',
  },
  {
    sql: "SELECT pg_current_wal_lsn() - '0/0' AS bytes, pg_walfile_name(pg_current_wal_lsn()) AS file",
    label: P,
    reason: 'primary: volatile function pg_current_wal_lsn',
    primaryAnswer: "asks for the primary's WAL position, which a standby refuses",
    standbyRefuses: true,
  },
];

/** Application queries: CTEs, windows, JSON, LATERAL, set-returning functions, large objects, sequences, locks. */
const APP: CorpusEntry[] = [
  { sql: "SELECT id, placed_at FROM orders WHERE (placed_at, id) < ('2100-01-01', 1000) ORDER BY placed_at DESC, id DESC LIMIT 20", label: R },
  { sql: 'SELECT a.id, o.* FROM accounts a CROSS JOIN LATERAL (SELECT id, total FROM orders WHERE account_id = a.id ORDER BY total DESC LIMIT 3) o', label: R },
  {
    sql: `SELECT json_build_object('id', a.id, 'orders', COALESCE(json_agg(json_build_object('id', o.id, 'total', o.total)) FILTER (WHERE o.id IS NOT NULL), '[]')) FROM accounts a LEFT JOIN orders o ON o.account_id = a.id GROUP BY a.id`,
    label: R,
  },
  { sql: `SELECT id FROM accounts WHERE jsonb_path_exists(data, '$.limits ? (@.seats > 1)')`, label: R },
  { sql: `SELECT id FROM accounts WHERE data @? '$.plan ? (@ == "pro")'`, label: R },
  { sql: 'SELECT account_id, placed_at, placed_at - lag(placed_at) OVER (PARTITION BY account_id ORDER BY placed_at) AS gap FROM orders', label: R },
  {
    sql: `SELECT d::date, count(o.id) FROM generate_series(date_trunc('day', now()) - interval '6 days', date_trunc('day', now()), interval '1 day') d LEFT JOIN orders o ON date_trunc('day', o.placed_at) = d GROUP BY 1 ORDER BY 1`,
    label: R,
  },
  { sql: "SELECT id FROM accounts WHERE tags && ARRAY['vip']::text[]", label: R },
  { sql: 'SELECT unnest(tags) AS tag, count(*) FROM accounts GROUP BY 1 ORDER BY 2 DESC', label: R },
  { sql: `SELECT id, ts_headline('english', name, websearch_to_tsquery('english', 'alice or bob')) FROM accounts WHERE to_tsvector('english', name) @@ websearch_to_tsquery('english', 'alice or bob')`, label: R },
  {
    sql: `WITH totals AS (SELECT account_id, sum(total) AS total FROM orders GROUP BY account_id), ranked AS (SELECT account_id, total, ntile(4) OVER (ORDER BY total) AS quartile FROM totals) SELECT a.name, r.total, r.quartile FROM ranked r JOIN accounts a ON a.id = r.account_id`,
    label: R,
  },
  { sql: `SELECT k, v FROM accounts, jsonb_each_text(coalesce(data, '{}')) AS e(k, v) WHERE id = 1`, label: R },
  { sql: 'SELECT * FROM orders WHERE placed_at > now() - interval \'1 hour\' ORDER BY placed_at DESC', label: R },
  { sql: 'SELECT lo_get(7001)', label: R, reason: 'replica: plain select' },
  { sql: 'SELECT lo_get($1::oid, $2, $3)', label: R, params: [7001, 0, 6] },
  { sql: 'SELECT loread(lo_open(7001, 262144), 1000000)', label: R },
  { sql: 'SELECT lo_from_bytea(0, $1::bytea)', label: P, reason: 'primary: volatile function lo_from_bytea', params: ['new object'], standbyRefuses: true },
  { sql: 'SELECT lo_unlink(7001)', label: P, reason: 'primary: volatile function lo_unlink', standbyRefuses: true },
  { sql: "SELECT pg_sequence_last_value('counter_seq')", label: R, reason: 'replica: plain select' },
  { sql: 'SELECT last_value FROM counter_seq', label: R },
  { sql: 'SELECT txid_current_if_assigned()', label: R, reason: 'replica: plain select' },
  { sql: 'SELECT pg_current_xact_id_if_assigned()', label: R },
  { sql: "SELECT nextval(pg_get_serial_sequence('accounts', 'id'))", label: P, reason: 'primary: volatile function nextval', standbyRefuses: true },
  {
    sql: "SELECT currval(pg_get_serial_sequence('accounts', 'id'))",
    label: P,
    setup: ["SELECT nextval(pg_get_serial_sequence('accounts', 'id'))"],
    primaryAnswer: "reads this session's nextval value, which only the primary has",
  },
  {
    sql: `WITH upd AS (UPDATE accounts SET balance = balance - 10 WHERE id = 1 RETURNING id, balance) INSERT INTO events (id, payload, at) SELECT id, jsonb_build_object('balance', balance), now() FROM upd`,
    label: P,
    reason: 'primary: INSERT',
  },
  { sql: "INSERT INTO accounts (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id, (xmax = 0) AS inserted", label: P },
  { sql: "INSERT INTO accounts (name) SELECT 'x' WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE name = 'x') RETURNING id", label: P },
  { sql: 'SELECT account_id, sum(total) AS total INTO TEMP TABLE order_sums FROM orders GROUP BY 1', label: P, reason: 'primary: SELECT INTO', pins: ['temp-table'] },
  { sql: 'CREATE TABLE IF NOT EXISTS audit_log (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), what text)', label: P, reason: 'primary: DDL', standbyRefuses: true },
  { sql: "UPDATE orders SET status = 'shipped' WHERE id IN (SELECT id FROM orders WHERE status = 'paid' ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED) RETURNING id", label: P, reason: 'primary: UPDATE' },
  { sql: 'DELETE FROM events WHERE at < now() - interval \'30 days\'', label: P, reason: 'primary: DELETE' },
];

export const APPS: readonly CorpusEntry[] = [
  ...DJANGO,
  ...RAILS,
  ...SQLALCHEMY,
  ...HIBERNATE,
  ...PRISMA,
  ...SEQUELIZE,
  ...TYPEORM,
  ...ECTO,
  ...DRIVERS,
  ...TOOLS,
  ...PSQL,
  ...PG_DUMP,
  ...GUI,
  ...DASHBOARDS,
  ...MONITORING,
  ...APP,
];
