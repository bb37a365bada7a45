// Owns the client half of the forwarding path while a client is linked: its bytes framed by
// header (lib/protocol/relay), the decision per message of what pgmux must look at (statement
// names, SET, pins, LISTEN, routing, rules, metrics) and the rest written to the server in whole
// runs. The client connection (./client-connection) makes one at the client's first request and
// feeds it every chunk the client sends while linked; what the frames mean for the session is
// the client's (owed ReadyForQuery, its watchers), reached through `client`.

import { FrontendCode } from '../protocol/codes';
import { Action, Relay, type RelayError, type RelayHandler } from '../protocol/relay';
import type { FrameLimits } from '../protocol/limits';
import { clock } from '../clock';
import { TAG_FRAME_MAX } from '../metrics/observer';
import type { ServerConnection } from '../server/server-connection';
import type { Pool } from '../pool/pool';
import type { PreparedLink } from '../prepared/link';
import type { ClientRouter } from '../routing/router';
import type { SessionSettings } from '../session/settings';
import { NOT_OURS } from '../session/listen-glue';
import { Scan, StatementText } from '../session/statement-scan';
import type { ClientConnection } from './client-connection';

export class ClientRequests implements RelayHandler {
  private readonly relay: Relay;
  /** A Query or Parse the rules replaced (a denied statement's marker), written by afterFrame. */
  private ruleFrame: Buffer | null = null;
  /** The last inspected frame left prepared-statement work for afterFrame. */
  private preparedWork = false;
  private terminating = false;
  /** What goes to `gatherFor` while the current chunk is fed (gather), else null. */
  private gathered: Buffer[] | null = null;
  private gatherFor: ServerConnection | null = null;
  /** The current Query or Parse frame's text as the session's watchers read it (refilled per frame). */
  private readonly text = new StatementText();

  constructor(
    private readonly client: ClientConnection,
    limits: FrameLimits,
  ) {
    this.relay = new Relay(this, limits);
  }

  /** Between messages: nothing of a started one is outstanding. */
  atBoundary(): boolean {
    return this.relay.atBoundary();
  }

  /** Feeds a chunk the client sent; what was gathered for the server goes before this returns. Why the stream is refused, or null. */
  feed(chunk: Buffer): RelayError | null {
    const err = this.relay.feed(chunk);
    if (this.gathered !== null) this.sendGathered();
    return err;
  }

  onHeader(type: number, length: number): number {
    // A message while none of this client's queries runs starts one (SHOW STATS).
    if (this.client.timing.queryStart === 0 && type !== FrontendCode.Terminate) this.client.beginRequest();
    switch (type) {
      case FrontendCode.Query:
      case FrontendCode.Sync:
      case FrontendCode.FunctionCall:
        if (this.client.owed === 0 && this.client.unsynced === 0) this.client.requestSince = clock.now;
        this.client.owed++;
        this.client.unsynced = 0;
        // SQL-level PREPARE/EXECUTE/DEALLOCATE are rewritten per server (lib/prepared/sql-planner); a
        // routed client's statements are classified for its session pins and writes; the rules see
        // statements; metrics fingerprint them (not a huge one that would have to be assembled for that alone).
        if (type === FrontendCode.Query && (this.client.watchSets || this.client.prepared !== null || this.client.pinWatch !== null || this.client.router !== null || this.client.listenGlue !== null || this.client.rules?.inspects === true || (this.client.tags !== null && length <= TAG_FRAME_MAX))) {
          return Action.Inspect;
        }
        // Held back behind a Bind whose statement pgmux checks (lib/prepared/link withholding).
        if (this.client.prepared?.withholding === true) return Action.Inspect;
        this.client.prepared?.noteForwarded(type);
        return Action.Forward;
      case FrontendCode.CopyData:
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        return Action.Forward;
      case FrontendCode.Parse:
      case FrontendCode.Bind:
        this.startUnsynced();
        // Statement names are rewritten per server when prepared statements are tracked; the
        // rules see statements (and, while the result cache runs, the Binds that execute them);
        // metrics learn which statement runs.
        if (this.client.prepared !== null || (this.client.tags !== null && length <= TAG_FRAME_MAX)) return Action.Inspect;
        // A COMMIT through the extended protocol decides a transaction's LISTENs.
        if (type === FrontendCode.Parse && this.client.listenGlue?.watchesParse === true) return Action.Inspect;
        // Session pins: a Parse's text may pin; a Bind of a named statement whose text pins does.
        if (this.client.pinWatch !== null && (type === FrontendCode.Parse || this.client.pinWatch.pins.tracksNamed)) return Action.Inspect;
        // SET follows the client: Parses are looked at, and Binds of a named statement that sets something.
        if (this.client.watchSets && (type === FrontendCode.Parse || (this.client.settings as SessionSettings).hasNamedStatements)) return Action.Inspect;
        if (this.client.rules === null) return Action.Forward;
        return (type === FrontendCode.Parse ? this.client.rules.inspects : this.client.rules.inspectsBinds) ? Action.Inspect : Action.Forward;
      case FrontendCode.Describe:
      case FrontendCode.Close:
        this.startUnsynced();
        return this.client.prepared !== null ? Action.Inspect : Action.Forward;
      case FrontendCode.Execute:
        this.startUnsynced();
        // A batch pgmux may run again after a stale plan keeps its Execute's bytes, and a SQL
        // DEALLOCATE's Execute gets its tag replaced (lib/prepared/link).
        if (this.client.prepared?.inspectsExecute === true) return Action.Inspect;
        this.client.prepared?.noteForwarded(type);
        return Action.Forward;
      case FrontendCode.Flush:
        this.startUnsynced();
        return this.client.prepared?.withholding === true ? Action.Inspect : Action.Forward;
      default:
        // Terminate: the relay refuses every type no client may send at its header (lib/protocol/limits).
        return Action.Inspect;
    }
  }

  /** One more extended-protocol message before Sync; the first with nothing owed starts the request's query_timeout clock. */
  private startUnsynced(): void {
    const client = this.client;
    if (client.owed === 0 && client.unsynced === 0) client.requestSince = clock.now;
    client.unsynced++;
  }

  onFrame(type: number, buf: Buffer, start: number, end: number): number {
    const client = this.client;
    const isStatement = type === FrontendCode.Query || type === FrontendCode.Parse;
    // The SET, LISTEN and pin watchers share one read of the statement text (lib/session/statement-scan).
    const text = this.text;
    if (isStatement && (client.watchSets || client.pinWatch !== null || client.listenGlue !== null)) {
      let want = client.watchSets ? Scan.MaySet : 0;
      if (client.listenGlue !== null) want |= Scan.MayListen;
      if (client.pinWatch !== null) want |= client.pinWatch.wants;
      text.read(type, buf, start, end, want);
    }
    if (client.watchSets) {
      const settings = client.settings as SessionSettings;
      if (isStatement) settings.observe(buf, text);
      else if (type === FrontendCode.Bind && settings.hasNamedStatements) settings.observeBind(buf, start, end);
    }
    const tags = client.tags;
    if (tags !== null) {
      if (type === FrontendCode.Query) tags.query(buf, start, end);
      else if (type === FrontendCode.Parse) tags.parse(buf, start, end);
      else if (type === FrontendCode.Bind) tags.bind(buf, start, end);
    }
    const server = client.server;
    if (client.listenGlue !== null && server !== null && isStatement) {
      const verdict = client.listenGlue.linkedFrame(type, buf, start, end, server.txStatus, client.owed, text.valid && (text.scan & Scan.MayListen) !== 0);
      if (verdict !== NOT_OURS) return verdict;
    }
    if (client.rules !== null && isRuleMessage(type) && server !== null) {
      // statement_timeout, the cache's writes; a denied statement goes on as the rules' marker.
      const replaced = client.rules.clientFrame(type, buf, start, end, server, clock.now);
      if (replaced !== null) return this.replaceFrame(type, replaced);
    }
    if (client.pinWatch !== null && server !== null && (isStatement || type === FrontendCode.Bind)) {
      // Session pins are recorded (or refused over max_pinned_clients_per_pool) before the statement goes.
      const limit = client.ctx.settings.max_pinned_clients_per_pool;
      const counts = (client.pool as Pool).pins;
      const refused = isStatement ? client.pinWatch.statement(type, buf, text, limit, counts) : client.pinWatch.bind(buf, start, end, limit, counts);
      if (refused !== null) return this.replaceFrame(type, refused);
    }
    if (this.client.router !== null && (type === FrontendCode.Query || type === FrontendCode.Parse)) {
      this.observeStatement(type, buf, start, end);
      if (this.client.prepared === null) return Action.Forward;
    }
    if (this.client.prepared !== null && this.client.prepared.withholding && (type === FrontendCode.Sync || type === FrontendCode.Flush || type === FrontendCode.FunctionCall)) {
      return this.client.prepared.withholdFrame(type, buf, start, end);
    }
    if (this.client.prepared !== null && this.client.server !== null && isStatementMessage(type)) {
      const verdict = this.client.prepared.onClientFrame(type, buf, start, end, this.client.server);
      if ((verdict & Action.Notify) !== 0) this.preparedWork = true;
      return verdict;
    }
    if (type !== FrontendCode.Terminate) return Action.Forward;
    // Terminate (see onHeader): close once what came before it has gone out.
    this.terminating = true;
    return Action.Swallow | Action.Notify;
  }

  afterFrame(): boolean {
    const glue = this.client.listenGlue;
    if (glue !== null && glue.answer !== null) {
      this.client.answeredHere(glue.takeAnswer());
      return false;
    }
    const ruleFrame = this.ruleFrame;
    if (ruleFrame !== null) {
      this.ruleFrame = null;
      this.gather();
      this.write(ruleFrame);
      return false;
    }
    if (this.preparedWork) {
      this.preparedWork = false;
      const link = this.client.prepared as PreparedLink;
      const replacement = link.takeReplacement();
      if (replacement !== null) {
        this.gather();
        this.write(replacement);
      }
      const fakes = link.takeFakes();
      if (fakes !== null) this.client.socket.write(fakes);
      return false;
    }
    if (this.terminating) this.client.close('client close request');
    return true;
  }

  /**
   * A denied statement goes on as the rules' marker (lib/rules/client-rules DENY_MARKER): through
   * the prepared-statement link like any Parse, or written in the original's place by afterFrame.
   */
  private replaceFrame(type: number, frame: Buffer): number {
    if (this.client.router !== null) this.observeStatement(type, frame, 0, frame.length);
    const server = this.client.server;
    if (this.client.prepared !== null && server !== null) {
      const verdict = this.client.prepared.onClientFrame(type, frame, 0, frame.length, server);
      if ((verdict & Action.Notify) !== 0) this.preparedWork = true;
      if ((verdict & Action.Swallow) !== 0) return verdict;
    }
    this.ruleFrame = frame;
    return Action.Swallow | Action.Notify;
  }

  /** Tells the router about a forwarded Query or Parse (session pins, writes, named statements). */
  private observeStatement(type: number, buf: Buffer, start: number, end: number): void {
    const target = (this.client.router as ClientRouter).observeFrame(type, buf, start, end);
    if (target === 'primary') this.client.tags?.routedToPrimary();
  }

  write(bytes: Buffer): void {
    const server = this.client.server;
    if (server === null) return;
    this.client.stats.clientBytes += bytes.length;
    if (this.gathered !== null) this.gathered.push(bytes);
    else if (!server.sendToServer(bytes)) this.client.socket.pause();
  }

  /**
   * A rewritten frame (a Bind under the server's statement name, an injected Parse) is one
   * buffer, the rest of the chunk another run: gathered until the chunk is done, they leave as
   * one buffer in one write (pgbench -M prepared: Bind, then Execute+Sync), which costs less
   * than a corked socket's writev of the pieces. They are sent before feed returns, while the
   * chunk they slice is still the one read.
   */
  private gather(): void {
    if (this.gathered !== null || this.client.server === null) return;
    this.gathered = [];
    this.gatherFor = this.client.server;
  }

  private sendGathered(): void {
    const parts = this.gathered as Buffer[];
    const server = this.gatherFor as ServerConnection;
    this.gathered = null;
    this.gatherFor = null;
    // Unlinked while the chunk was fed (a refusal): what was meant for that server goes nowhere.
    if (parts.length === 0 || server !== this.client.server) return;
    if (!server.sendToServer(parts.length === 1 ? parts[0] : Buffer.concat(parts))) this.client.socket.pause();
  }
}

function isStatementMessage(type: number): boolean {
  return (
    type === FrontendCode.Parse ||
    type === FrontendCode.Bind ||
    type === FrontendCode.Describe ||
    type === FrontendCode.Close ||
    type === FrontendCode.Query ||
    type === FrontendCode.Execute
  );
}

/** Messages the rules look at: statements, and the Binds that run named ones. */
function isRuleMessage(type: number): boolean {
  return type === FrontendCode.Query || type === FrontendCode.Parse || type === FrontendCode.Bind;
}
