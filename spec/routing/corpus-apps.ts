// Owns the part of the routing corpus written in the shape applications send: ORMs (Django,
// Rails, SQLAlchemy, Hibernate/pgJDBC, Prisma, Sequelize, TypeORM, Ecto), drivers' type
// introspection, migration tools, job queues and hand-written application queries. Quoting,
// aliases and placeholders follow each tool; tables are the corpus fixtures'. Admin and
// monitoring tools are in corpus-admin.ts.

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
  ...APP,
];
