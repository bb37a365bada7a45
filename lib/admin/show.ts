// Owns SHOW <what>: one row per view, matched case-insensitively, each rendering its rows with
// the columns from views.ts; plus PgBouncer's fake SHOW of client parameters for drivers that
// ask (SHOW client_encoding answers UTF-8 as PgBouncer does).

import { commandComplete, dataRow, noticeResponse, rowDescription } from '../protocol/backend';
import { showConfigRows, type Settings } from '../config';
import { renderView } from './table';
import * as views from './views';
import * as rows from './rows';
import type { Inventory } from './rows';
import { hostRows, keyRows, pinRows, replicaRows } from './routing-rows';
import { cacheRows, ruleRows } from './rules-rows';

/** What a SHOW needs beyond the inventory. */
export interface ShowContext extends Inventory {
  readonly version: string;
  readonly pauseMode: 'none' | 'pause' | 'suspend';
  /** The settings SHOW CONFIG prints: the file's, also where a worker runs with a share of the limits. */
  readonly configSettings: Settings;
  listeners(): { fd: number | null; addr: string; port: number }[];
}

export interface ShowView {
  readonly name: string;
  /** Only admin_users may run it (SHOW FDS shows cancel keys). */
  readonly adminOnly?: boolean;
  render(ctx: ShowContext): Buffer[];
}

/** PgBouncer 1.18's SHOW HELP text, plus pgmux's additions (STATE, KILL_CLIENT). */
const HELP =
  '\n\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION\n' +
  '\tSHOW FDS|SOCKETS|ACTIVE_SOCKETS|LISTS|MEM|STATE\n' +
  '\tSHOW DNS_HOSTS|DNS_ZONES\n' +
  '\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS\n' +
  '\tSHOW HOSTS|REPLICAS|PINS|KEYS|PREPARED|RULES|CACHE|ROUTE <sql>\n' +
  '\tSET key = arg\n' +
  '\tRELOAD\n' +
  '\tPAUSE [<db>]\n' +
  '\tRESUME [<db>]\n' +
  '\tDISABLE <db>\n' +
  '\tENABLE <db>\n' +
  '\tRECONNECT [<db>]\n' +
  '\tKILL <db>\n' +
  '\tKILL_CLIENT <client_id>\n' +
  '\tSUSPEND\n' +
  '\tSHUTDOWN\n' +
  '\tWAIT_CLOSE [<db>]';

function clientSockets(ctx: ShowContext, states: { active: string; waiting: string }): views.SocketRow[] {
  const port = ctx.registry.settings.listen_port;
  const byPool = rows.clientsByPool(ctx);
  const out: views.SocketRow[] = [];
  for (const e of rows.poolEntries(ctx)) {
    const lists = byPool.get(e.pool);
    if (lists === undefined) continue;
    for (const c of lists.active) out.push(rows.clientRow(c, states.active, port));
    for (const c of lists.waiting) out.push(rows.clientRow(c, states.waiting, port));
  }
  return out;
}

function serverSockets(ctx: ShowContext, prefix: string): views.SocketRow[] {
  const port = ctx.registry.settings.listen_port;
  const linked = rows.linkedClients(ctx);
  const out: views.SocketRow[] = [];
  for (const e of rows.poolEntries(ctx)) {
    if (e.pool === null) continue;
    for (const [state, servers] of rows.serverLists(e.pool)) {
      // SOCKETS says sv_login where SERVERS says new, as PgBouncer does.
      const label = prefix === '' ? state : `${prefix}${state === 'new' ? 'login' : state}`;
      for (const s of servers) out.push(rows.serverRow(s, e.pool, label, linked.get(s), port));
    }
  }
  return out;
}

/** SOCKETS: per pool, clients then servers; then the clients still logging in. */
function allSockets(ctx: ShowContext): views.SocketRow[] {
  const port = ctx.registry.settings.listen_port;
  const byPool = rows.clientsByPool(ctx);
  const linked = rows.linkedClients(ctx);
  const out: views.SocketRow[] = [];
  for (const e of rows.poolEntries(ctx)) {
    const lists = byPool.get(e.pool);
    for (const c of lists?.active ?? []) out.push(rows.clientRow(c, 'cl_active', port));
    for (const c of lists?.waiting ?? []) out.push(rows.clientRow(c, 'cl_waiting', port));
    if (e.pool === null) continue;
    for (const [state, servers] of rows.serverLists(e.pool)) {
      for (const s of servers) out.push(rows.serverRow(s, e.pool, `sv_${state === 'new' ? 'login' : state}`, linked.get(s), port));
    }
  }
  for (const c of rows.loginClients(ctx)) out.push(rows.clientRow(c, 'cl_login', port));
  return out;
}

export const SHOW_VIEWS: readonly ShowView[] = [
  {
    name: 'help',
    render: () => [noticeResponse({ severity: 'NOTICE', code: '00000', message: 'Console usage', detail: HELP }), commandComplete('SHOW')],
  },
  { name: 'pools', render: (ctx) => renderView(views.POOLS, rows.poolRows(ctx)) },
  { name: 'stats', render: (ctx) => renderView(views.STATS, rows.dbStatsRows(ctx)) },
  { name: 'stats_totals', render: (ctx) => renderView(views.STATS_TOTALS, rows.dbStatsRows(ctx)) },
  { name: 'stats_averages', render: (ctx) => renderView(views.STATS_AVERAGES, rows.dbStatsRows(ctx)) },
  {
    name: 'totals',
    render: (ctx) => {
      const { total, avg } = rows.grandTotal(ctx);
      return renderView(views.TOTALS, views.totalsRows(total, avg));
    },
  },
  { name: 'clients', render: (ctx) => renderView(views.CLIENTS, clientSockets(ctx, { active: 'active', waiting: 'waiting' })) },
  { name: 'servers', render: (ctx) => renderView(views.SERVERS, serverSockets(ctx, '')) },
  { name: 'sockets', render: (ctx) => renderView(views.SOCKETS, allSockets(ctx)) },
  // Sockets with bytes waiting to be sent (PgBouncer: a non-empty buffer).
  { name: 'active_sockets', render: (ctx) => renderView(views.SOCKETS, allSockets(ctx).filter((r) => r.sendAvail > 0)) },
  { name: 'databases', render: (ctx) => renderView(views.DATABASES, rows.databaseRows(ctx)) },
  { name: 'users', render: (ctx) => renderView(views.USERS, rows.userRows(ctx)) },
  { name: 'config', render: (ctx) => renderView(views.CONFIG, showConfigRows(ctx.configSettings)) },
  { name: 'lists', render: (ctx) => renderView(views.LISTS, rows.listRows(ctx)) },
  { name: 'version', render: (ctx) => renderView(views.VERSION, [ctx.version]) },
  { name: 'mem', render: (ctx) => renderView(views.MEM, rows.memRows(ctx)) },
  { name: 'fds', adminOnly: true, render: (ctx) => renderView(views.FDS, rows.fdRows(ctx, ctx.listeners())) },
  { name: 'dns_hosts', render: () => renderView(views.DNS_HOSTS, []) },
  // pgmux only: read/write splitting (SHOW ROUTE <sql> is read by the console before parseCommand).
  { name: 'replicas', render: (ctx) => renderView(views.REPLICAS, replicaRows(ctx.registry)) },
  { name: 'pins', render: (ctx) => renderView(views.PINS, pinRows(ctx.registry)) },
  // pgmux only: failover (issue 12): every host's role, health and circuit breaker.
  { name: 'hosts', render: (ctx) => renderView(views.HOSTS, hostRows(ctx.registry)) },
  // pgmux only: read_your_writes = key (issue 19).
  { name: 'keys', render: (ctx) => renderView(views.KEYS, keyRows(ctx.registry)) },
  // pgmux only: the [rules] and the result cache (issue 15).
  { name: 'rules', render: (ctx) => renderView(views.RULES, ruleRows(ctx.registry)) },
  { name: 'cache', render: (ctx) => renderView(views.CACHE, cacheRows(ctx.registry)) },
  // pgmux only: the prepared-statement registry shared by every pool (issue 4).
  { name: 'prepared', render: (ctx) => renderView(views.PREPARED, ctx.registry.statements.all()) },
  { name: 'dns_zones', render: () => renderView(views.DNS_ZONES, []) },
  {
    name: 'state',
    render: (ctx) =>
      renderView(views.STATE, [
        { name: 'active', value: ctx.pauseMode === 'none' ? 'yes' : 'no' },
        { name: 'paused', value: ctx.pauseMode === 'pause' ? 'yes' : 'no' },
        { name: 'suspended', value: ctx.pauseMode === 'suspend' ? 'yes' : 'no' },
      ]),
  },
];

/**
 * Parameters some drivers SHOW or SET on connect; PgBouncer 1.18 fakes these (admin.c
 * fake_param_list; extra_float_digits joined the list only in later versions).
 */
export const FAKE_PARAMS: ReadonlyMap<string, string> = new Map([
  ['client_encoding', 'UTF-8'],
  ['default_transaction_isolation', 'read committed'],
  ['standard_conforming_strings', 'on'],
  ['datestyle', 'ISO'],
  ['timezone', 'GMT'],
]);

/** SHOW of a faked parameter: one text column named after it. */
export function fakeShow(name: string): Buffer[] | null {
  const key = name.toLowerCase();
  const value = FAKE_PARAMS.get(key);
  if (value === undefined) return null;
  return [rowDescription([{ name: key, typeOid: 25 }]), dataRow([value]), commandComplete('SHOW')];
}

export function findView(name: string): ShowView | undefined {
  const key = name.toLowerCase();
  return SHOW_VIEWS.find((v) => v.name === key);
}
