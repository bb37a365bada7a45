// Owns the calls that prove lib/routing/classify-builtins.ts on a real hot standby: for every
// function listed there and every other volatile pg_catalog function of PostgreSQL 15, one call
// with plausible arguments, and what a hot standby does with it (runs it, or refuses it and why).

/** Created on the primary and replayed before any call runs. */
export const FIXTURES = `
CREATE TABLE bi_rows (id int, v text, ts tsvector);
INSERT INTO bi_rows SELECT g, 'x', 'a b' FROM generate_series(1, 100) g;
CREATE INDEX bi_brin ON bi_rows USING brin (id);
CREATE INDEX bi_gin ON bi_rows USING gin (ts) WITH (fastupdate = on);
CREATE SEQUENCE bi_seq;
SELECT nextval('bi_seq');
CREATE UNLOGGED SEQUENCE bi_unlogged_seq;
SELECT nextval('bi_unlogged_seq');
SELECT lo_from_bytea(4242, 'hello large object');
SELECT pg_replication_origin_create('bi_origin');
CREATE TABLE bi_xid AS SELECT pg_current_xact_id() AS x;
CREATE TABLE bi_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE bi_parted_1 PARTITION OF bi_parted FOR VALUES FROM (0) TO (10);
CREATE FUNCTION bi_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION bi_plpgsql() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END';
`;

/**
 * The server settings the calls need: commit timestamps recorded, logical WAL (so that logical
 * decoding is refused for being in recovery, not for the WAL level), full-page writes (a backup
 * may start on a standby), and a log directory that exists (pg_ls_logdir; nothing is logged
 * there, the logging collector is off).
 */
export const SETTINGS: Record<string, string> = {
  track_commit_timestamp: 'on',
  wal_level: 'logical',
  full_page_writes: 'on',
  log_directory: 'global',
};

export interface BuiltinCall {
  /** The call; `$DIR` stands for a directory the server may write to. */
  sql: string;
  /** Statements run first in the same session (inside the transaction when `txn`). */
  setup?: string[];
  /** Statements run afterwards, to undo what the call left (a lock, a slot, a paused replay). */
  after?: string[];
  txn?: boolean;
  /** What the hot standby does: runs it, refuses it (the error message matches), or not tried (why). */
  standby: 'runs' | RegExp | { notRun: string };
}

/** How a hot standby refuses what it cannot do: read-only transaction, recovery in progress. */
export const RECOVERY_REFUSAL = /in a read-only transaction|during recovery|recovery is in progress|while in recovery/;

const runs = (sql: string, extra: Omit<BuiltinCall, 'sql' | 'standby'> = {}): BuiltinCall => ({ sql, standby: 'runs', ...extra });
const refused = (sql: string, extra: Omit<BuiltinCall, 'sql' | 'standby'> = {}): BuiltinCall => ({ sql, standby: RECOVERY_REFUSAL, ...extra });
const fails = (sql: string, message: RegExp): BuiltinCall => ({ sql, standby: message });

const DB_OID = '(SELECT oid FROM pg_database WHERE datname = current_database())';
const slot = (name: string, immediately = false): string => `SELECT pg_create_physical_replication_slot('${name}', ${immediately})`;
const drop = (name: string): string => `SELECT pg_drop_replication_slot('${name}')`;
const BINARY_UPGRADE = /only be called when server is in binary upgrade mode/;

/** One call per function name. */
export const CALLS: Readonly<Record<string, BuiltinCall>> = {
  // Volatile, read-only: the standby runs them.
  clock_timestamp: runs('SELECT clock_timestamp()'),
  timeofday: runs('SELECT timeofday()'),
  random: runs('SELECT random()'),
  gen_random_uuid: runs('SELECT gen_random_uuid()'),
  pg_sleep: runs('SELECT pg_sleep(0)'),
  pg_sleep_for: runs("SELECT pg_sleep_for('0 s')"),
  pg_sleep_until: runs('SELECT pg_sleep_until(now())'),
  current_query: runs('SELECT current_query()'),
  pg_last_wal_receive_lsn: runs('SELECT pg_last_wal_receive_lsn()'),
  pg_last_wal_replay_lsn: runs('SELECT pg_last_wal_replay_lsn()'),
  pg_last_xact_replay_timestamp: runs('SELECT pg_last_xact_replay_timestamp()'),
  pg_is_wal_replay_paused: runs('SELECT pg_is_wal_replay_paused()'),
  pg_get_wal_replay_pause_state: runs('SELECT pg_get_wal_replay_pause_state()'),
  pg_database_size: runs('SELECT pg_database_size(current_database())'),
  pg_relation_size: runs("SELECT pg_relation_size('bi_rows')"),
  pg_table_size: runs("SELECT pg_table_size('bi_rows')"),
  pg_indexes_size: runs("SELECT pg_indexes_size('bi_rows')"),
  pg_total_relation_size: runs("SELECT pg_total_relation_size('bi_rows')"),
  pg_tablespace_size: runs("SELECT pg_tablespace_size('pg_default')"),
  pg_ls_dir: runs("SELECT pg_ls_dir('.')"),
  pg_ls_logdir: runs('SELECT * FROM pg_ls_logdir()'),
  pg_ls_waldir: runs('SELECT * FROM pg_ls_waldir()'),
  pg_ls_tmpdir: runs('SELECT * FROM pg_ls_tmpdir()'),
  pg_ls_archive_statusdir: runs('SELECT * FROM pg_ls_archive_statusdir()'),
  pg_ls_logicalmapdir: runs('SELECT * FROM pg_ls_logicalmapdir()'),
  pg_ls_logicalsnapdir: runs('SELECT * FROM pg_ls_logicalsnapdir()'),
  pg_ls_replslotdir: runs("SELECT * FROM pg_ls_replslotdir('bi_dir_slot')", { setup: [slot('bi_dir_slot')], after: [drop('bi_dir_slot')] }),
  pg_read_file: runs("SELECT pg_read_file('PG_VERSION')"),
  pg_read_file_old: runs("SELECT pg_read_file_old('PG_VERSION', 0, 2)"),
  pg_read_binary_file: runs("SELECT pg_read_binary_file('PG_VERSION', 0, 2)"),
  pg_stat_file: runs("SELECT pg_stat_file('PG_VERSION')"),
  pg_lock_status: runs('SELECT * FROM pg_lock_status()'),
  pg_blocking_pids: runs('SELECT pg_blocking_pids(pg_backend_pid())'),
  pg_safe_snapshot_blocking_pids: runs('SELECT pg_safe_snapshot_blocking_pids(pg_backend_pid())'),
  pg_isolation_test_session_is_blocked: runs("SELECT pg_isolation_test_session_is_blocked(pg_backend_pid(), '{}')"),
  pg_prepared_xact: runs('SELECT * FROM pg_prepared_xact()'),
  pg_current_logfile: runs('SELECT pg_current_logfile()'),
  pg_partition_tree: runs("SELECT * FROM pg_partition_tree('bi_parted')"),
  pg_partition_ancestors: runs("SELECT * FROM pg_partition_ancestors('bi_parted_1')"),
  pg_xact_commit_timestamp: runs('SELECT pg_xact_commit_timestamp(x::text::xid) FROM bi_xid'),
  pg_xact_commit_timestamp_origin: runs('SELECT pg_xact_commit_timestamp_origin(x::text::xid) FROM bi_xid'),
  pg_last_committed_xact: runs('SELECT pg_last_committed_xact()'),
  txid_status: runs('SELECT txid_status(x::text::bigint) FROM bi_xid'),
  pg_xact_status: runs('SELECT pg_xact_status(x) FROM bi_xid'),
  pg_control_checkpoint: runs('SELECT pg_control_checkpoint()'),
  pg_control_system: runs('SELECT pg_control_system()'),
  pg_control_init: runs('SELECT pg_control_init()'),
  pg_control_recovery: runs('SELECT pg_control_recovery()'),
  pg_stat_have_stats: runs(`SELECT pg_stat_have_stats('relation', ${DB_OID}, 'bi_rows'::regclass::oid)`),
  pg_jit_available: runs('SELECT pg_jit_available()'),
  pg_notification_queue_usage: runs('SELECT pg_notification_queue_usage()'),
  pg_hba_file_rules: runs('SELECT * FROM pg_hba_file_rules()'),
  pg_ident_file_mappings: runs('SELECT * FROM pg_ident_file_mappings()'),
  pg_show_all_file_settings: runs('SELECT * FROM pg_show_all_file_settings()'),
  cursor_to_xml: runs("SELECT cursor_to_xml('bi_cursor', 10, false, false, '')", { txn: true, setup: ['DECLARE bi_cursor CURSOR FOR SELECT id FROM bi_rows'] }),
  cursor_to_xmlschema: runs("SELECT cursor_to_xmlschema('bi_cursor', false, false, '')", { txn: true, setup: ['DECLARE bi_cursor CURSOR FOR SELECT id FROM bi_rows'] }),
  pg_get_backend_memory_contexts: runs('SELECT * FROM pg_get_backend_memory_contexts()'),
  pg_get_shmem_allocations: runs('SELECT * FROM pg_get_shmem_allocations()'),
  pg_collation_actual_version: runs("SELECT pg_collation_actual_version((SELECT oid FROM pg_collation WHERE collname = 'C'))"),
  pg_database_collation_actual_version: runs(`SELECT pg_database_collation_actual_version(${DB_OID})`),
  // xmax of the row two transactions locked FOR SHARE at once (the spec makes it a MultiXactId).
  pg_get_multixact_members: runs('SELECT * FROM pg_get_multixact_members((SELECT xmax FROM bi_rows WHERE id = 1))'),
  pg_get_wal_resource_managers: runs('SELECT * FROM pg_get_wal_resource_managers()'),
  pg_stat_get_recovery_prefetch: runs('SELECT * FROM pg_stat_get_recovery_prefetch()'),
  pg_stat_clear_snapshot: runs('SELECT pg_stat_clear_snapshot()'),
  pg_stat_force_next_flush: runs('SELECT pg_stat_force_next_flush()'),
  pg_stat_get_xact_blocks_fetched: runs("SELECT pg_stat_get_xact_blocks_fetched('bi_rows'::regclass)"),
  pg_stat_get_xact_blocks_hit: runs("SELECT pg_stat_get_xact_blocks_hit('bi_rows'::regclass)"),
  pg_stat_get_xact_function_calls: runs("SELECT pg_stat_get_xact_function_calls('bi_fn'::regproc)"),
  pg_stat_get_xact_function_self_time: runs("SELECT pg_stat_get_xact_function_self_time('bi_fn'::regproc)"),
  pg_stat_get_xact_function_total_time: runs("SELECT pg_stat_get_xact_function_total_time('bi_fn'::regproc)"),
  pg_stat_get_xact_numscans: runs("SELECT pg_stat_get_xact_numscans('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_deleted: runs("SELECT pg_stat_get_xact_tuples_deleted('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_fetched: runs("SELECT pg_stat_get_xact_tuples_fetched('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_hot_updated: runs("SELECT pg_stat_get_xact_tuples_hot_updated('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_inserted: runs("SELECT pg_stat_get_xact_tuples_inserted('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_returned: runs("SELECT pg_stat_get_xact_tuples_returned('bi_rows'::regclass)"),
  pg_stat_get_xact_tuples_updated: runs("SELECT pg_stat_get_xact_tuples_updated('bi_rows'::regclass)"),
  pg_show_replication_origin_status: runs('SELECT * FROM pg_show_replication_origin_status()'),
  pg_replication_origin_progress: runs("SELECT pg_replication_origin_progress('bi_origin', true)"),
  amvalidate: runs("SELECT amvalidate((SELECT oid FROM pg_opclass WHERE opcname = 'int4_ops' AND opcmethod = 403))"),
  currtid2: runs("SELECT currtid2('bi_rows', '(0,1)')"),
  lo_get: runs('SELECT lo_get(4242), lo_get(4242, 6, 5)'),
  lo_open: runs('SELECT lo_open(4242, 262144)'),
  loread: runs('SELECT loread(lo_open(4242, 262144), 5)'),
  lo_lseek: runs('SELECT lo_lseek(lo_open(4242, 262144), 6, 0)'),
  lo_lseek64: runs('SELECT lo_lseek64(lo_open(4242, 262144), 6, 0)'),
  lo_tell: runs('SELECT lo_tell(lo_open(4242, 262144))'),
  lo_tell64: runs('SELECT lo_tell64(lo_open(4242, 262144))'),
  lo_close: runs('SELECT lo_close(lo_open(4242, 262144))'),
  pg_sequence_last_value: runs("SELECT pg_sequence_last_value('bi_seq'), pg_sequence_last_value('bi_unlogged_seq')"),
  // Stable, read-only (once listed as writing): with no transaction id assigned, NULL anywhere.
  txid_current_if_assigned: runs('SELECT txid_current_if_assigned()'),
  pg_current_xact_id_if_assigned: runs('SELECT pg_current_xact_id_if_assigned()'),

  // The answer is about the node: the primary's is the one asked for through pgmux.
  pg_is_in_recovery: runs('SELECT pg_is_in_recovery()'),

  // Refused by a hot standby: they write, assign an xid or an OID, or need the primary's WAL.
  nextval: refused("SELECT nextval('bi_seq')"),
  setval: refused("SELECT setval('bi_seq', 10)"),
  txid_current: refused('SELECT txid_current()'),
  pg_current_xact_id: refused('SELECT pg_current_xact_id()'),
  pg_current_wal_lsn: refused('SELECT pg_current_wal_lsn()'),
  pg_current_wal_insert_lsn: refused('SELECT pg_current_wal_insert_lsn()'),
  pg_current_wal_flush_lsn: refused('SELECT pg_current_wal_flush_lsn()'),
  pg_walfile_name: refused("SELECT pg_walfile_name('0/1000000')"),
  pg_walfile_name_offset: refused("SELECT pg_walfile_name_offset('0/1000000')"),
  pg_switch_wal: refused('SELECT pg_switch_wal()'),
  pg_create_restore_point: refused("SELECT pg_create_restore_point('bi')"),
  pg_notify: refused("SELECT pg_notify('bi', 'x')"),
  pg_logical_emit_message: refused("SELECT pg_logical_emit_message(true, 'bi', 'x')"),
  pg_import_system_collations: refused("SELECT pg_import_system_collations('pg_catalog')"),
  pg_nextoid: refused("SELECT pg_nextoid('pg_class', 'oid', 'pg_class_oid_index')"),
  lo_creat: refused('SELECT lo_creat(-1)'),
  lo_create: refused('SELECT lo_create(0)'),
  lo_from_bytea: refused("SELECT lo_from_bytea(0, 'x')"),
  lo_import: refused("SELECT lo_import('PG_VERSION')"),
  lo_put: refused("SELECT lo_put(4242, 0, 'x')"),
  lo_truncate: refused('SELECT lo_truncate(lo_open(4242, 393216), 1)'),
  lo_truncate64: refused('SELECT lo_truncate64(lo_open(4242, 393216), 1)'),
  lo_unlink: refused('SELECT lo_unlink(4242)'),
  lowrite: refused("SELECT lowrite(lo_open(4242, 131072), 'x')"),
  brin_summarize_new_values: refused("SELECT brin_summarize_new_values('bi_brin')"),
  brin_summarize_range: refused("SELECT brin_summarize_range('bi_brin', 0)"),
  brin_desummarize_range: refused("SELECT brin_desummarize_range('bi_brin', 0)"),
  gin_clean_pending_list: refused("SELECT gin_clean_pending_list('bi_gin')"),
  pg_replication_origin_oid: refused("SELECT pg_replication_origin_oid('bi_origin')"),
  pg_replication_origin_create: refused("SELECT pg_replication_origin_create('bi_other')"),
  pg_replication_origin_drop: refused("SELECT pg_replication_origin_drop('bi_origin')"),
  pg_replication_origin_advance: refused("SELECT pg_replication_origin_advance('bi_origin', '0/1000000')"),
  pg_replication_origin_session_setup: refused("SELECT pg_replication_origin_session_setup('bi_origin')"),
  pg_replication_origin_session_reset: refused('SELECT pg_replication_origin_session_reset()'),
  pg_replication_origin_session_is_setup: refused('SELECT pg_replication_origin_session_is_setup()'),
  pg_replication_origin_session_progress: refused('SELECT pg_replication_origin_session_progress(true)'),
  pg_replication_origin_xact_setup: refused("SELECT pg_replication_origin_xact_setup('0/1000000', now())"),
  pg_replication_origin_xact_reset: refused('SELECT pg_replication_origin_xact_reset()'),
  pg_create_logical_replication_slot: refused("SELECT pg_create_logical_replication_slot('bi_logical', 'test_decoding')"),
  pg_copy_logical_replication_slot: refused("SELECT pg_copy_logical_replication_slot('bi_logical', 'bi_logical_copy')"),
  pg_logical_slot_get_changes: refused("SELECT * FROM pg_logical_slot_get_changes('bi_logical', NULL, NULL)"),
  pg_logical_slot_get_binary_changes: refused("SELECT * FROM pg_logical_slot_get_binary_changes('bi_logical', NULL, NULL)"),
  pg_logical_slot_peek_changes: refused("SELECT * FROM pg_logical_slot_peek_changes('bi_logical', NULL, NULL)"),
  pg_logical_slot_peek_binary_changes: refused("SELECT * FROM pg_logical_slot_peek_binary_changes('bi_logical', NULL, NULL)"),

  // The standby runs them, but what they hold or change stays on that node.
  pg_advisory_lock: runs('SELECT pg_advisory_lock(1)', { after: ['SELECT pg_advisory_unlock_all()'] }),
  pg_advisory_lock_shared: runs('SELECT pg_advisory_lock_shared(1)', { after: ['SELECT pg_advisory_unlock_all()'] }),
  pg_advisory_unlock: runs('SELECT pg_advisory_unlock(1)', { setup: ['SELECT pg_advisory_lock(1)'] }),
  pg_advisory_unlock_shared: runs('SELECT pg_advisory_unlock_shared(1)', { setup: ['SELECT pg_advisory_lock_shared(1)'] }),
  pg_advisory_unlock_all: runs('SELECT pg_advisory_unlock_all()', { setup: ['SELECT pg_advisory_lock(1)'] }),
  pg_advisory_xact_lock: runs('SELECT pg_advisory_xact_lock(1)'),
  pg_advisory_xact_lock_shared: runs('SELECT pg_advisory_xact_lock_shared(1)'),
  pg_try_advisory_lock: runs('SELECT pg_try_advisory_lock(1)', { after: ['SELECT pg_advisory_unlock_all()'] }),
  pg_try_advisory_lock_shared: runs('SELECT pg_try_advisory_lock_shared(1)', { after: ['SELECT pg_advisory_unlock_all()'] }),
  pg_try_advisory_xact_lock: runs('SELECT pg_try_advisory_xact_lock(1)'),
  pg_try_advisory_xact_lock_shared: runs('SELECT pg_try_advisory_xact_lock_shared(1)'),
  // PID 0 is no backend: a warning and false, but the call is accepted.
  pg_cancel_backend: runs('SELECT pg_cancel_backend(0)'),
  pg_terminate_backend: runs('SELECT pg_terminate_backend(0)'),
  pg_log_backend_memory_contexts: runs('SELECT pg_log_backend_memory_contexts(pg_backend_pid())'),
  pg_reload_conf: runs('SELECT pg_reload_conf()'),
  pg_rotate_logfile: runs('SELECT pg_rotate_logfile()'),
  pg_rotate_logfile_old: runs('SELECT pg_rotate_logfile_old()'),
  pg_stat_reset: runs('SELECT pg_stat_reset()'),
  pg_stat_reset_shared: runs("SELECT pg_stat_reset_shared('bgwriter')"),
  pg_stat_reset_single_table_counters: runs("SELECT pg_stat_reset_single_table_counters('bi_rows'::regclass)"),
  pg_stat_reset_single_function_counters: runs("SELECT pg_stat_reset_single_function_counters('bi_fn'::regproc)"),
  pg_stat_reset_slru: runs('SELECT pg_stat_reset_slru(NULL)'),
  pg_stat_reset_replication_slot: runs('SELECT pg_stat_reset_replication_slot(NULL)'),
  pg_stat_reset_subscription_stats: runs('SELECT pg_stat_reset_subscription_stats(NULL)'),
  pg_backup_start: runs("SELECT pg_backup_start('bi')", { after: ['SELECT pg_backup_stop(false)'] }),
  pg_backup_stop: runs('SELECT pg_backup_stop(false)', { setup: ["SELECT pg_backup_start('bi')"] }),
  pg_export_snapshot: runs('SELECT pg_export_snapshot()'),
  pg_create_physical_replication_slot: runs(slot('bi_slot', true), { after: [drop('bi_slot')] }),
  pg_copy_physical_replication_slot: runs("SELECT pg_copy_physical_replication_slot('bi_slot', 'bi_slot_copy')", {
    setup: [slot('bi_slot', true)],
    after: [drop('bi_slot_copy'), drop('bi_slot')],
  }),
  pg_drop_replication_slot: runs(drop('bi_slot'), { setup: [slot('bi_slot')] }),
  pg_replication_slot_advance: runs("SELECT pg_replication_slot_advance('bi_slot', pg_last_wal_replay_lsn())", {
    setup: [slot('bi_slot', true)],
    after: [drop('bi_slot')],
  }),
  lo_export: runs("SELECT lo_export(4242, '$DIR/bi_lo_export')"),
  pg_wal_replay_pause: runs('SELECT pg_wal_replay_pause()', { after: ['SELECT pg_wal_replay_resume()'] }),
  pg_wal_replay_resume: runs('SELECT pg_wal_replay_resume()', { setup: ['SELECT pg_wal_replay_pause()'] }),
  pg_promote: { sql: 'SELECT pg_promote()', standby: { notRun: 'it would promote the standby it runs on' } },

  // Session state: nextval's value lives in the primary's session; settings and the seed stay
  // on the server that ran them.
  currval: fails("SELECT currval('bi_seq')", /not yet defined in this session/),
  lastval: fails('SELECT lastval()', /not yet defined in this session/),
  set_config: runs("SELECT set_config('work_mem', '8MB', false)", { after: ['RESET work_mem'] }),
  setseed: runs('SELECT setseed(0.5)'),

  // A query given as text runs inside them.
  query_to_xml: runs("SELECT query_to_xml('SELECT id FROM bi_rows', true, false, '')"),
  query_to_xmlschema: runs("SELECT query_to_xmlschema('SELECT id FROM bi_rows', true, false, '')"),
  query_to_xml_and_xmlschema: runs("SELECT query_to_xml_and_xmlschema('SELECT id FROM bi_rows', true, false, '')"),
  ts_stat: runs("SELECT * FROM ts_stat('SELECT ts FROM bi_rows')"),
  ts_rewrite: runs("SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')"),

  // Not for SQL callers: they fail anywhere but where they belong (initdb, pg_upgrade, CREATE
  // EXTENSION, CREATE FUNCTION's validation).
  pg_stop_making_pinned_objects: fails('SELECT pg_stop_making_pinned_objects()', /cannot advance OID counter anymore/),
  pg_extension_config_dump: fails("SELECT pg_extension_config_dump('bi_rows', '')", /only be called from an SQL script executed by CREATE EXTENSION/),
  plpgsql_validator: runs("SELECT plpgsql_validator('bi_plpgsql'::regproc)"),
  binary_upgrade_create_empty_extension: fails("SELECT binary_upgrade_create_empty_extension('x', 'x', false, '1', NULL, NULL, NULL)", BINARY_UPGRADE),
  binary_upgrade_set_missing_value: fails("SELECT binary_upgrade_set_missing_value('bi_rows'::regclass, 'v', 'x')", BINARY_UPGRADE),
  binary_upgrade_set_next_array_pg_type_oid: fails('SELECT binary_upgrade_set_next_array_pg_type_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_heap_pg_class_oid: fails('SELECT binary_upgrade_set_next_heap_pg_class_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_heap_relfilenode: fails('SELECT binary_upgrade_set_next_heap_relfilenode(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_index_pg_class_oid: fails('SELECT binary_upgrade_set_next_index_pg_class_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_index_relfilenode: fails('SELECT binary_upgrade_set_next_index_relfilenode(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_multirange_array_pg_type_oid: fails('SELECT binary_upgrade_set_next_multirange_array_pg_type_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_multirange_pg_type_oid: fails('SELECT binary_upgrade_set_next_multirange_pg_type_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_pg_authid_oid: fails('SELECT binary_upgrade_set_next_pg_authid_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_pg_enum_oid: fails('SELECT binary_upgrade_set_next_pg_enum_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_pg_tablespace_oid: fails('SELECT binary_upgrade_set_next_pg_tablespace_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_pg_type_oid: fails('SELECT binary_upgrade_set_next_pg_type_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_toast_pg_class_oid: fails('SELECT binary_upgrade_set_next_toast_pg_class_oid(0)', BINARY_UPGRADE),
  binary_upgrade_set_next_toast_relfilenode: fails('SELECT binary_upgrade_set_next_toast_relfilenode(0)', BINARY_UPGRADE),
  binary_upgrade_set_record_init_privs: fails('SELECT binary_upgrade_set_record_init_privs(false)', BINARY_UPGRADE),
};

/**
 * Volatile pg_catalog functions SQL cannot call: triggers, access-method, tablesample and
 * language handlers, and functions of `internal` arguments (the spec checks pg_proc says so).
 * They are in no list; a call of one would be judged unknown, the primary.
 */
export const NOT_CALLABLE: readonly string[] = [
  'RI_FKey_cascade_del', 'RI_FKey_cascade_upd', 'RI_FKey_check_ins', 'RI_FKey_check_upd', 'RI_FKey_noaction_del',
  'RI_FKey_noaction_upd', 'RI_FKey_restrict_del', 'RI_FKey_restrict_upd', 'RI_FKey_setdefault_del',
  'RI_FKey_setdefault_upd', 'RI_FKey_setnull_del', 'RI_FKey_setnull_upd', 'suppress_redundant_updates_trigger',
  'tsvector_update_trigger', 'tsvector_update_trigger_column', 'unique_key_recheck', 'bernoulli', 'system',
  'brinhandler', 'bthandler', 'ginhandler', 'gisthandler', 'hashhandler', 'spghandler', 'heap_tableam_handler',
  'dsnowball_init', 'dsnowball_lexize', 'plpgsql_call_handler', 'plpgsql_inline_handler',
];
