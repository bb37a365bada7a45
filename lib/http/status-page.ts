// Owns the live status page (GET /status): one self-contained HTML document with its CSS and
// script inline and charts drawn as SVG by the script, so it works on a host with no network
// beyond pgmux itself. The script fetches status.json every two seconds and redraws; the route
// box asks status/route what SHOW ROUTE would say. Every text from pgmux (SQL, host names,
// errors) is put in with textContent, never as HTML.

export const REFRESH_MS = 2000;

const CSS = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2430; --dim:#667085; --line:#e3e6eb; --ok:#137333; --warn:#b06000; --bad:#c5221f; --a:#1a73e8; --b:#e8710a; --c:#8e24aa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; gap:16px; align-items:baseline; padding:12px 20px; background:var(--ink); color:#fff; flex-wrap:wrap; }
header h1 { margin:0; font-size:20px; }
header .dim { color:#c9d1dc; }
main { padding:16px 20px; display:grid; gap:16px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; overflow-x:auto; }
h2 { font-size:15px; margin:0 0 8px; }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr)); gap:16px; background:none; border:none; padding:0; }
.charts > div { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
svg { width:100%; height:auto; max-height:180px; display:block; }
.legend span { margin-right:12px; white-space:nowrap; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:middle; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--dim); font-weight:600; font-size:12px; }
td.num, th.num { text-align:right; }
td.sql { white-space:normal; font-family:ui-monospace, monospace; font-size:12px; max-width:60ch; word-break:break-word; }
.badge { padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
.ok { color:var(--ok); } .warn { color:var(--warn); } .bad { color:var(--bad); }
header .badge.ok { background:#e6f4ea; } header .badge.bad { background:#fce8e6; }
.empty { color:var(--dim); font-style:italic; }
textarea { width:100%; min-height:60px; font-family:ui-monospace, monospace; font-size:13px; }
button { margin-top:6px; padding:4px 14px; }
`;

const SCRIPT = `
'use strict';
const REFRESH_MS = ${REFRESH_MS};
const $ = (id) => document.getElementById(id);
let refreshes = 0;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fmt(x, digits) {
  if (x === null || x === undefined) return '–';
  if (typeof x !== 'number') return String(x);
  return x.toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
}

function bytes(x) {
  if (x === null || x === undefined) return '–';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return fmt(x, 1) + ' ' + u[i];
}

/** Fills table #id with rows; columns: [title, value(row), class(row)?, numeric?]. */
function table(id, columns, rows, empty) {
  const t = $(id);
  t.replaceChildren();
  const head = el('tr');
  for (const c of columns) head.append(el('th', c[0], c[3] ? 'num' : ''));
  t.append(el('thead'));
  t.tHead.append(head);
  const body = el('tbody');
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', empty, 'empty');
    td.colSpan = columns.length;
    tr.append(td);
    body.append(tr);
  }
  for (const r of rows) {
    const tr = el('tr');
    for (const c of columns) tr.append(el('td', c[1](r), ((c[2] ? c[2](r) : '') + (c[3] ? ' num' : '')).trim()));
    body.append(tr);
  }
  t.append(body);
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

/** A line chart of the history: series [name, color, value(point)]. */
function chart(id, history, series, unit) {
  const svg = $(id);
  svg.replaceChildren();
  const W = 360, H = 140, L = 40, B = 16;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  let max = 0;
  for (const p of history) for (const s of series) max = Math.max(max, s[2](p));
  max = max <= 0 ? 1 : niceCeil(max);
  // The last ten minutes, or since pgmux started when that is less.
  const t1 = history.length ? history[history.length - 1].t : Date.now();
  const t0 = Math.max(t1 - 10 * 60 * 1000, history.length ? history[0].t : t1 - 60 * 1000);
  const span = Math.max(t1 - t0, 1000);
  const x = (t) => L + ((t - t0) / span) * (W - L - 4);
  const y = (v) => 4 + (1 - v / max) * (H - B - 8);
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl('line', { x1: L, x2: W - 4, y1: y(max * f), y2: y(max * f), stroke: '#e3e6eb' }));
    const label = svgEl('text', { x: L - 4, y: y(max * f) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' });
    label.textContent = fmt(max * f, 2);
    svg.append(label);
  }
  const ago = (ms) => (ms >= 60000 ? '−' + fmt(ms / 60000, 1) + ' min' : '−' + Math.round(ms / 1000) + ' s');
  for (const [text, at] of [[ago(span), L], [ago(span / 2), (L + W) / 2], ['now', W - 4]]) {
    const label = svgEl('text', { x: at, y: H - 4, 'text-anchor': at === L ? 'start' : at === W - 4 ? 'end' : 'middle', 'font-size': 10, fill: '#667085' });
    label.textContent = text;
    svg.append(label);
  }
  for (const s of series) {
    const pts = history.filter((p) => p.t >= t0).map((p) => x(p.t).toFixed(1) + ',' + y(s[2](p)).toFixed(1)).join(' ');
    if (pts) svg.append(svgEl('polyline', { points: pts, fill: 'none', stroke: s[1], 'stroke-width': 1.6, 'data-series': s[0] }));
  }
  const legend = $(id + '-legend');
  legend.replaceChildren();
  const last = history[history.length - 1];
  for (const s of series) {
    const span = el('span');
    const sw = el('i');
    sw.style.background = s[1];
    span.append(sw, document.createTextNode(s[0] + ': ' + (last ? fmt(s[2](last), 2) : '–') + ' ' + unit));
    legend.append(span);
  }
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function render(d) {
  $('version').textContent = d.version;
  $('uptime').textContent = 'up ' + fmt(d.uptimeSeconds / 60, 1) + ' min';
  const ready = $('ready');
  ready.textContent = d.notReady.length === 0 ? 'ready' : 'not ready: ' + d.notReady.join('; ');
  ready.className = 'badge ' + (d.notReady.length === 0 ? 'ok' : 'bad');
  chart('chart-rate', d.history, [['requests/s', '#1a73e8', (p) => p.qps], ['transactions/s', '#e8710a', (p) => p.tps]], '/s');
  chart('chart-latency', d.history, [['p50', '#1a73e8', (p) => p.p50Ms], ['p99', '#8e24aa', (p) => p.p99Ms]], 'ms');
  chart('chart-clients', d.history, [['active', '#1a73e8', (p) => p.active], ['waiting', '#c5221f', (p) => p.waiting]], '');
  table('pools', [
    ['database', (r) => r.database], ['user', (r) => r.user],
    ['cl_active', (r) => r.clActive, null, true], ['cl_waiting', (r) => r.clWaiting, (r) => (r.clWaiting > 0 ? 'warn' : ''), true],
    ['sv_active', (r) => r.svActive, null, true], ['sv_idle', (r) => r.svIdle, null, true], ['sv_used', (r) => r.svUsed, null, true],
    ['sv_tested', (r) => r.svTested, null, true], ['sv_login', (r) => r.svLogin, null, true],
    ['maxwait s', (r) => fmt(r.maxwaitSeconds, 3), (r) => (r.maxwaitSeconds >= 1 ? 'bad' : ''), true], ['pool_mode', (r) => r.poolMode],
  ], d.pools, 'no pools yet: they appear at the first login');
  const hosts = [];
  for (const db of d.databases) for (const h of db.hosts) hosts.push(Object.assign({ db }, h));
  table('backends', [
    ['database', (r) => r.db.name], ['primary', (r) => r.db.state === 'up' ? 'up' : r.db.state + ' ' + fmt(r.db.searchingSeconds) + ' s', (r) => (r.db.state === 'up' ? 'ok' : 'bad')],
    ['host', (r) => r.host], ['role', (r) => (r.primary ? 'primary' : r.role), (r) => (r.primary ? 'ok' : '')],
    ['breaker', (r) => r.breaker + (r.breaker !== 'closed' && r.breakerReason ? ' (' + r.breakerReason + ')' : ''), (r) => (r.breaker === 'closed' ? 'ok' : 'bad')],
    ['reads', (r) => (r.readState === null ? '' : r.readState), (r) => (r.readState === 'up' ? 'ok' : r.readState === null ? '' : 'warn')],
    ['lag', (r) => (r.primary ? '' : bytes(r.lagBytes)), null, true], ['lag s', (r) => (r.primary ? '' : fmt(r.lagSeconds, 3)), null, true],
    ['rtt ms', (r) => fmt(r.rttMs, 2), null, true], ['failures', (r) => r.failures, (r) => (r.failures > 0 ? 'bad' : ''), true],
    ['timeline', (r) => r.db.timeline, null, true], ['failovers', (r) => r.db.failovers, null, true], ['last error', (r) => r.lastError],
  ], hosts, 'no databases');
  const fp = d.fingerprints;
  const rows = fp.top.slice().sort((a, b) => b.meanMs - a.meanMs);
  rows.push({ id: 'other', text: '(every other statement)', kind: '', calls: fp.other.calls, totalMs: fp.other.totalMs, meanMs: fp.other.meanMs, maxMs: fp.other.maxMs, p99Ms: null });
  table('fingerprints', [
    ['fingerprint', (r) => r.id], ['statement', (r) => r.text, () => 'sql'], ['kind', (r) => r.kind],
    ['calls', (r) => fmt(r.calls, 0), null, true], ['mean ms', (r) => fmt(r.meanMs, 3), null, true], ['p99 ms', (r) => fmt(r.p99Ms, 3), null, true],
    ['max ms', (r) => fmt(r.maxMs, 3), null, true], ['total s', (r) => fmt(r.totalMs / 1000, 2), null, true],
  ], rows, '');
  $('fp-limit').textContent = 'the ' + fp.limit + ' fingerprints with the most time lately, slowest first (metrics_fingerprints)';
  table('pins', [['database', (r) => r.database], ['reason', (r) => r.reason], ['pinned now', (r) => r.now, null, true], ['pinned since start', (r) => r.total, null, true]],
    d.pins, 'no database with replicas has had a routed login yet');
  const reasons = [];
  for (const r of d.routing) for (const x of r.reasons) reasons.push({ database: r.database, reason: x.reason, count: x.count });
  table('reasons', [['database', (r) => r.database], ['reason', (r) => r.reason], ['decisions', (r) => fmt(r.count, 0), null, true]], reasons, 'no routing decisions yet');
  refreshes++;
  document.body.dataset.refreshes = String(refreshes);
  $('updated').textContent = 'updated ' + new Date(d.now).toLocaleTimeString();
}

async function refresh() {
  try {
    const res = await fetch('status.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
  } catch (e) {
    $('updated').textContent = 'pgmux did not answer (' + e.message + '); trying again';
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

$('route-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('route-result');
  const sql = $('route-sql').value;
  out.replaceChildren(el('p', 'asking…', 'empty'));
  try {
    const res = await fetch('status/route?sql=' + encodeURIComponent(sql), { cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
    out.replaceChildren(el('table'));
    out.firstChild.id = 'route-table';
    table('route-table', [['database', (r) => r.database], ['route', (r) => r.route, (r) => (r.route === 'replica' ? 'ok' : '')], ['reason', (r) => r.reason], ['statement', (r) => r.statement], ['tier', (r) => r.tier]],
      body.rows, 'no database has replicas=: every statement goes to its primary');
  } catch (e) {
    out.replaceChildren(el('p', e.message, 'bad'));
  }
});

refresh();
`;

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgmux status</title>
<style>${CSS}</style>
</head>
<body data-refreshes="0">
<header><h1>pgmux</h1><span id="version" class="dim"></span><span id="uptime" class="dim"></span><span id="ready" class="badge"></span><span id="updated" class="dim">loading…</span></header>
<main>
<div class="charts">
  <div><h2>Throughput</h2><svg id="chart-rate" role="img" aria-label="requests and transactions per second"></svg><div id="chart-rate-legend" class="legend"></div></div>
  <div><h2>Latency (request to answer)</h2><svg id="chart-latency" role="img" aria-label="latency percentiles"></svg><div id="chart-latency-legend" class="legend"></div></div>
  <div><h2>Clients</h2><svg id="chart-clients" role="img" aria-label="clients active and waiting"></svg><div id="chart-clients-legend" class="legend"></div></div>
</div>
<section><h2>Databases and backends</h2><table id="backends"></table></section>
<section><h2>Pools</h2><table id="pools"></table></section>
<section><h2>Slowest fingerprints</h2><p id="fp-limit" class="empty"></p><table id="fingerprints"></table></section>
<section><h2>Session pins</h2><table id="pins"></table></section>
<section><h2>Routing decisions</h2><table id="reasons"></table></section>
<section><h2>Where would this statement go?</h2>
<form id="route-form"><textarea id="route-sql" placeholder="SELECT * FROM accounts WHERE id = 1" spellcheck="false"></textarea><br><button type="submit" id="route-button">Route</button></form>
<div id="route-result"></div></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
