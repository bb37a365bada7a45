// Owns pgmux's HTTP listener (http_listen_addr, http_listen_port): GET /metrics for Prometheus,
// /status (the live page) and its JSON, /healthz and /readyz for orchestrators. It answers from
// what an HttpHost gives it and changes nothing; lib/observability.ts wires the host.
//
// It is off unless http_listen_port is set. A RELOAD that moves it opens the new address first
// and closes the old one only once that worked, so a bad address leaves the running one up.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../log';
import { STATUS_HTML } from './status-page';

/** What the listener serves. */
export interface MetricsAnswer {
  contentType: string;
  body: string;
}

export interface HttpHost {
  /** The exposition: OpenMetrics when asked for, else Prometheus text (with workers, gathered from all). */
  metrics(openMetrics: boolean): MetricsAnswer | Promise<MetricsAnswer>;
  /** Why pgmux is not ready (no primary for a database past failover_timeout, shutting down); empty when ready. */
  notReady(): string[];
  /** The status page's data. */
  status(): unknown;
  /** What SHOW ROUTE says for `sql`. */
  route(sql: string): unknown;
}

/** Longest statement the route box takes (a URL can carry more; the classifier need not see it). */
const ROUTE_SQL_MAX = 64 * 1024;

export class HttpListener {
  private server: http.Server | null = null;
  private bound = '';

  constructor(private readonly host: HttpHost) {}

  /** host:port it listens on, or null. */
  get address(): { address: string; port: number } | null {
    const a = this.server?.address();
    return a !== null && a !== undefined && typeof a === 'object' ? { address: (a as AddressInfo).address, port: (a as AddressInfo).port } : null;
  }

  /**
   * Listens on `addr`:`port` (port 0: off). At start a failure is thrown; on RELOAD the caller
   * logs it and the listener stays where it was.
   */
  async configure(addr: string, port: number): Promise<void> {
    const wanted = port === 0 ? '' : `${addr}:${port}`;
    if (wanted === this.bound) return;
    const old = this.server;
    if (wanted !== '') {
      this.server = await this.open(addr === '*' ? '::' : addr, port, wanted);
      log.info(`HTTP listening on ${wanted} (/metrics, /status, /healthz, /readyz)`);
    } else {
      this.server = null;
    }
    this.bound = wanted;
    if (old !== null) old.close();
    // Keep-alive connections of scrapers would hold the old port open: close them too.
    old?.closeAllConnections();
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
    this.server = null;
    this.bound = '';
  }

  private open(host: string, port: number, label: string): Promise<http.Server> {
    return new Promise((resolve, reject) => {
      // node checks headersTimeout and requestTimeout only every connectionsCheckingInterval
      // (30 s by default): a client dripping header bytes held its socket ~40 s, not 10.
      const server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => this.handle(req, res));
      // A scrape is one request; slow clients must not hold sockets forever.
      server.headersTimeout = 10_000;
      server.requestTimeout = 30_000;
      server.keepAliveTimeout = 5_000;
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EAFNOSUPPORT' && host === '::') {
          this.open('0.0.0.0', port, label).then(resolve, reject);
          return;
        }
        reject(new Error(`cannot listen for HTTP on ${label} (http_listen_addr, http_listen_port): ${err.message}`));
      });
      server.listen({ host, port }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => log.error(`HTTP listener ${label}: ${err.message}`));
        resolve(server);
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', `${req.method ?? ''} is not served here: use GET\n`, { Allow: 'GET, HEAD' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://pgmux');
    try {
      switch (url.pathname) {
        case '/metrics': {
          const answer = this.host.metrics((req.headers.accept ?? '').includes('application/openmetrics-text'));
          if (!(answer instanceof Promise)) send(res, 200, answer.contentType, answer.body);
          else {
            answer.then(
              (a) => send(res, 200, a.contentType, a.body),
              (err: Error) => {
                log.error(`HTTP /metrics: ${err.message}`);
                send(res, 500, 'text/plain; charset=utf-8', 'metrics could not be gathered from every worker\n');
              },
            );
          }
          return;
        }
        case '/healthz':
          send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
          return;
        case '/readyz': {
          const why = this.host.notReady();
          send(res, why.length === 0 ? 200 : 503, 'text/plain; charset=utf-8', why.length === 0 ? 'ready\n' : `not ready: ${why.join('; ')}\n`);
          return;
        }
        case '/':
          send(res, 302, 'text/plain; charset=utf-8', 'see /status\n', { Location: '/status' });
          return;
        case '/status':
          send(res, 200, 'text/html; charset=utf-8', STATUS_HTML, { 'Content-Security-Policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:" });
          return;
        case '/status.json':
          sendJson(res, 200, this.host.status());
          return;
        case '/status/route': {
          const sql = url.searchParams.get('sql') ?? '';
          if (sql.trim() === '') sendJson(res, 400, { error: 'give the statement as ?sql=' });
          else if (sql.length > ROUTE_SQL_MAX) sendJson(res, 413, { error: `statement longer than ${ROUTE_SQL_MAX} characters` });
          else sendJson(res, 200, this.host.route(sql));
          return;
        }
        default:
          send(res, 404, 'text/plain; charset=utf-8', `no such page: ${url.pathname} (try /metrics, /status, /healthz, /readyz)\n`);
      }
    } catch (err) {
      log.error(`HTTP ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
      send(res, 500, 'text/plain; charset=utf-8', 'internal error, see the pgmux log\n');
    }
  }

}

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}
