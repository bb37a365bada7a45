// Owns tier 2 of statement classification: PostgreSQL's own grammar (libpg-query, WASM),
// loaded once at startup, and the walk over its parse tree that finds what needs the primary:
// data-modifying statements at any depth, SELECT INTO, locking clauses, function calls,
// EXPLAIN ANALYZE, COPY direction, session state. It is the authority for whatever the lexer
// is unsure of; when even the grammar cannot say, the answer is the primary.

import { loadModule, parseSync } from 'libpg-query';
import { type Obj, isObj, obj, list, str, nodeOf, withinStack } from '../parse-tree';
import { Fn, SET_CONFIG, judgeFunction, pinsOf, type CompiledOptions } from './classify-functions';
import { keyVerdict, PRIMARY_SHOW, parseRoute, routeVerdict } from './classify-lexer';
import { ALL_PINS, Pin, Rank, combine, stickySetting, verdict, type Verdict, type VerdictUse } from './classify-types';

let loaded = false;
let loading: Promise<void> | undefined;

/** Loads the WASM parser; call once at startup. Until it resolves, unsure statements go to the primary. */
export function loadParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

export function parserLoaded(): boolean {
  return loaded;
}

const NOT_LOADED = verdict('primary', 'primary: parser not loaded', { cacheable: false });
const TOO_LONG = verdict('primary', 'primary: too long to parse');
/** A literal can make the text unparsable (a bad escape, PostgreSQL 16's `1_`), so not by normalized text. */
const UNPARSABLE = verdict('primary', 'primary: unparsable', { literalSensitive: true });
// Its pins are unknown: it may pin anything, so the client keeps its server until the server, asked, says none remain.
const TOO_DEEP = verdict('primary', 'primary: nested too deep to walk', { literalSensitive: true, pins: ALL_PINS });
const EMPTY = verdict('replica', 'replica: empty');

/** The strings of a name list such as FuncCall.funcname: `[{ String: { sval } }, …]`. */
function names(v: unknown): string[] {
  return list(v).map((item) => str(obj(obj(item).String).sval) ?? '');
}

/** The value of an A_Const (protobuf JSON omits zero values, so `{ ival: {} }` is 0). */
function constant(v: unknown): string | number | boolean | undefined {
  const c = obj(v).A_Const;
  if (!isObj(c)) return undefined;
  if (isObj(c.sval)) return str(c.sval.sval) ?? '';
  if (isObj(c.ival)) return typeof c.ival.ival === 'number' ? c.ival.ival : 0;
  if (isObj(c.boolval)) return c.boolval.boolval === true;
  return undefined;
}

const DML: Readonly<Record<string, string>> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

const LOCKING: Readonly<Record<string, string>> = {
  LCS_FORUPDATE: 'FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
};

/** Statements that always need the primary and have a reason code of their own (the rest: DDL). */
const STATEMENT_REASONS: Readonly<Record<string, string>> = {
  ...DML,
  TruncateStmt: 'TRUNCATE',
  LockStmt: 'LOCK',
  ClusterStmt: 'CLUSTER',
  ReindexStmt: 'REINDEX',
  CheckPointStmt: 'CHECKPOINT',
  CallStmt: 'CALL',
  DoStmt: 'DO',
  NotifyStmt: 'NOTIFY',
  LoadStmt: 'LOAD',
  ExecuteStmt: 'EXECUTE',
  DeallocateStmt: 'DEALLOCATE',
  FetchStmt: 'cursor',
  ConstraintsSetStmt: 'SET CONSTRAINTS',
};

/** DECLARE … WITH HOLD (CURSOR_OPT_HOLD in parsenodes.h). */
const CURSOR_OPT_HOLD = 0x20;

/** Collects, over a subtree, the strongest reason for the primary and the pins calls create. */
class Walk {
  rank = 0;
  reason = '';
  private loc = Number.POSITIVE_INFINITY;
  onlyFunctions = true;
  pins = 0;
  unpins = 0;
  /** A set_config that must keep the client on the primary (its name is not a literal, or stickySetting). */
  stickySet = false;
  unknown: string[] | undefined;

  constructor(private readonly o: CompiledOptions) {}

  flag(rank: number, reason: string, loc: number, onlyFunctions: boolean): void {
    this.onlyFunctions = this.onlyFunctions && onlyFunctions;
    if (rank > this.rank || (rank === this.rank && loc < this.loc)) {
      this.rank = rank;
      this.reason = reason;
      this.loc = loc;
    }
  }

  visit(v: unknown): void {
    if (Array.isArray(v)) {
      for (const item of v) this.visit(item);
      return;
    }
    if (!isObj(v)) return;
    for (const key in v) {
      const child = v[key];
      if (isObj(child)) {
        if (key === 'FuncCall') this.call(child);
        else if (key === 'LockingClause') this.flag(Rank.locking, `primary: ${LOCKING[str(child.strength) ?? ''] ?? 'FOR UPDATE'}`, -1, false);
        else if (DML[key] !== undefined) this.flag(Rank.writingCte, 'primary: writing CTE', -1, false);
      }
      if (typeof child === 'object' && child !== null) this.visit(child);
    }
  }

  private call(fc: Obj): void {
    const parts = names(fc.funcname);
    const name = parts[parts.length - 1] ?? '';
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    const loc = typeof fc.location === 'number' ? fc.location : 0;
    switch (judgeFunction(name, schema, this.o)) {
      case Fn.safe:
        return;
      case Fn.write: {
        this.flag(Rank.writeFunction, `primary: volatile function ${name}`, loc, false);
        const p = pinsOf(name);
        this.pins |= p.pins;
        this.unpins |= p.unpins;
        // set_config(name, value, is_local): only a literal true keeps it to the transaction.
        if (name === SET_CONFIG && constant(list(fc.args)[2]) !== true) {
          this.pins |= Pin.set;
          const setting = constant(list(fc.args)[0]);
          if (typeof setting !== 'string' || stickySetting(setting)) this.stickySet = true;
        }
        return;
      }
      case Fn.volatile:
        this.flag(Rank.userFunction, `primary: volatile function ${name}`, loc, true);
        return;
      default:
        this.flag(Rank.userFunction, `primary: unknown function ${name}`, loc, true);
        (this.unknown ??= []).push(schema === undefined ? name : `${schema}.${name}`);
    }
  }

  /** The verdict: the primary for the strongest reason found, else a replica for `replicaReason`. */
  result(replicaReason: string): Verdict {
    if (this.rank === 0) return verdict('replica', replicaReason, { pins: this.pins, unpins: this.unpins, stickySet: this.stickySet });
    return verdict('primary', this.reason, {
      pins: this.pins,
      unpins: this.unpins,
      stickySet: this.stickySet,
      onlyFunctions: this.onlyFunctions,
      unknownFunctions: this.onlyFunctions ? this.unknown : undefined,
    });
  }

  /** The verdict of a statement that needs the primary anyway: only its pins come from the walk. */
  primary(reason: string): Verdict {
    return verdict('primary', reason, { pins: this.pins, unpins: this.unpins, stickySet: this.stickySet });
  }
}

/**
 * Tier 2: the verdict from PostgreSQL's grammar for the whole text (every statement of a
 * multi-statement string; the primary if any needs it).
 */
export function parserClassify(sql: string, o: CompiledOptions): Verdict {
  return withinStack(() => classifyTree(sql, o), TOO_DEEP);
}

function classifyTree(sql: string, o: CompiledOptions): Verdict {
  if (!loaded) return NOT_LOADED;
  if (sql.length > o.maxParseLength) return TOO_LONG;
  let stmts: readonly unknown[];
  try {
    stmts = list(parseSync(sql).stmts);
  } catch {
    return UNPARSABLE;
  }
  let acc: Verdict | undefined;
  let uses: VerdictUse[] | null = null;
  let rest: Verdict | null = null;
  for (const raw of stmts) {
    const node = obj(raw).stmt;
    const v = statementVerdict(node, o);
    acc = acc === undefined ? v : combine(acc, v);
    const use = preparedUse(node, o);
    if (use !== null) (uses ??= []).push(use);
    else rest = rest === null ? v : combine(rest, v);
  }
  if (acc === undefined) return EMPTY;
  return uses === null ? acc : { ...acc, prepared: { uses, rest } };
}

/** PREPARE, EXECUTE or DEALLOCATE of a SQL-level prepared statement, for the router; else null. */
function preparedUse(node: unknown, o: CompiledOptions): VerdictUse | null {
  const n = nodeOf(node);
  if (n === undefined) return null;
  const [type, body] = n;
  switch (type) {
    case 'PrepareStmt':
      return { kind: 'prepare', name: str(body.name) ?? '', verdict: statementVerdict(body.query, o) };
    case 'ExecuteStmt': {
      // Its arguments are evaluated where it runs: a volatile call in them needs the primary.
      const w = new Walk(o);
      w.visit(body.params);
      return { kind: 'execute', name: str(body.name) ?? '', verdict: w.result('replica: EXECUTE') };
    }
    case 'DeallocateStmt':
      return { kind: 'deallocate', name: body.isall === true ? null : (str(body.name) ?? null), verdict: null };
    default:
      return null;
  }
}

/** One statement node; EXPLAIN, COPY, DECLARE and PREPARE recurse into the statement they wrap. */
function statementVerdict(node: unknown, o: CompiledOptions): Verdict {
  const n = nodeOf(node);
  if (n === undefined) return UNPARSABLE;
  const [type, body] = n;
  switch (type) {
    case 'SelectStmt':
      return select(body, o);
    case 'ExplainStmt':
      return explain(body, o);
    case 'CopyStmt':
      return copy(body, o);
    case 'VariableSetStmt':
      return variableSet(body);
    case 'VariableShowStmt': {
      const name = str(body.name) ?? '';
      return PRIMARY_SHOW.has(name) ? verdict('primary', `primary: SHOW ${name}`) : verdict('replica', 'replica: SHOW');
    }
    case 'TransactionStmt':
      return transaction(body);
    case 'DeclareCursorStmt': {
      const inner = statementVerdict(body.query, o);
      const options = typeof body.options === 'number' ? body.options : 0;
      if ((options & CURSOR_OPT_HOLD) === 0) return inner;
      return verdict('primary', 'primary: DECLARE WITH HOLD', { pins: inner.pins | Pin.withHoldCursor, unpins: inner.unpins, stickySet: inner.stickySet });
    }
    case 'PrepareStmt':
      return statementVerdict(body.query, o);
    case 'ClosePortalStmt':
      return verdict('primary', 'primary: cursor', { unpins: body.portalname === undefined ? Pin.withHoldCursor : 0 });
    // LISTEN no longer pins: in transaction pooling pgmux answers it and a listener connection
    // on the primary receives the notifications (lib/session/channels); a standby refuses it.
    case 'ListenStmt':
      return verdict('primary', 'primary: LISTEN');
    case 'UnlistenStmt':
      return verdict('primary', 'primary: UNLISTEN');
    case 'DiscardStmt':
      // A prepared transaction is not the session's: DISCARD ALL leaves it prepared.
      if (body.target === 'DISCARD_ALL') return verdict('primary', 'primary: DISCARD', { unpins: ALL_PINS & ~Pin.preparedXact, sessionRoute: 'auto', sessionKey: null });
      return verdict('primary', 'primary: DISCARD', { unpins: body.target === 'DISCARD_TEMP' ? Pin.tempTable : 0 });
    case 'VacuumStmt':
      return verdict('primary', body.is_vacuumcmd === true ? 'primary: VACUUM' : 'primary: ANALYZE');
    default:
      return utility(type, body, o);
  }
}

/** SELECT, VALUES, TABLE, set operations: a replica unless something in it needs the primary. */
function select(body: Obj, o: CompiledOptions): Verdict {
  const w = new Walk(o);
  w.visit(body);
  const into = obj(body.intoClause);
  if (isObj(body.intoClause)) {
    w.flag(Rank.selectInto, 'primary: SELECT INTO', -1, false);
    if (isTemp(into.rel) && into.onCommit !== 'ONCOMMIT_DROP') w.pins |= Pin.tempTable;
  }
  return w.result('replica: plain select');
}

/** EXPLAIN plans only; EXPLAIN ANALYZE runs the statement, so it goes where the statement goes. */
function explain(body: Obj, o: CompiledOptions): Verdict {
  let analyze = false;
  let literalSensitive = false;
  for (const item of list(body.options)) {
    const def = obj(obj(item).DefElem);
    if (def.defname !== 'analyze') continue;
    if (def.arg === undefined) {
      analyze = true;
    } else {
      // `ANALYZE 0` and `ANALYZE 'off'` differ from `ANALYZE 1` only in a literal.
      literalSensitive = true;
      analyze = truthy(def.arg);
    }
  }
  const inner = nodeOf(body.query);
  if (inner !== undefined && inner[0] === 'ExecuteStmt') return verdict('primary', 'primary: EXECUTE', { literalSensitive });
  if (!analyze) return verdict('replica', 'replica: EXPLAIN', { literalSensitive });
  const v = statementVerdict(body.query, o);
  if (v.target === 'replica') return verdict('replica', 'replica: EXPLAIN', { literalSensitive: literalSensitive || v.literalSensitive });
  return verdict('primary', 'primary: EXPLAIN ANALYZE of a write', {
    pins: v.pins,
    unpins: v.unpins,
    stickySet: v.stickySet,
    onlyFunctions: v.onlyFunctions,
    unknownFunctions: v.unknownFunctions,
    literalSensitive: literalSensitive || v.literalSensitive,
  });
}

/** An EXPLAIN option value as defGetBoolean reads it; anything unclear counts as on. */
function truthy(arg: unknown): boolean {
  const a = obj(arg);
  if (isObj(a.String)) return !['false', 'off', 'no', '0'].includes((str(a.String.sval) ?? '').toLowerCase());
  if (isObj(a.Integer)) return a.Integer.ival !== undefined && a.Integer.ival !== 0;
  if (isObj(a.Boolean)) return a.Boolean.boolval === true;
  return true;
}

/** COPY FROM writes; COPY TO a server file or program acts on the primary; COPY (query) TO follows the query. */
function copy(body: Obj, o: CompiledOptions): Verdict {
  if (body.is_from === true) return verdict('primary', 'primary: COPY FROM');
  if (body.filename !== undefined || body.is_program === true) return verdict('primary', 'primary: COPY TO file');
  if (body.query !== undefined) {
    const v = statementVerdict(body.query, o);
    if (v.target === 'primary') return v;
  }
  return verdict('replica', 'replica: COPY TO STDOUT');
}

function variableSet(body: Obj): Verdict {
  const name = str(body.name) ?? '';
  const kind = str(body.kind) ?? '';
  if (body.is_local === true) return verdict('replica', 'replica: SET LOCAL');
  if (kind === 'VAR_RESET_ALL') return verdict('primary', 'primary: RESET', { pins: Pin.set, setStatement: true, sessionRoute: 'auto', sessionKey: null });
  if (name === 'pgmux.key') {
    if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT') return keyVerdict(null);
    const args = list(body.args);
    const value = args.length === 1 ? constant(args[0]) : undefined;
    if (typeof value === 'string') return keyVerdict(value);
    return verdict('primary', 'primary: SET', { pins: Pin.set, stickySet: true, literalSensitive: true });
  }
  if (name === 'pgmux.route') {
    if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT') return routeVerdict('auto');
    const args = list(body.args);
    const value = args.length === 1 ? constant(args[0]) : undefined;
    const route = typeof value === 'string' ? parseRoute(value) : undefined;
    if (route !== undefined) return routeVerdict(route);
    return verdict('primary', 'primary: SET', { pins: Pin.set, stickySet: true, literalSensitive: true });
  }
  if (kind === 'VAR_RESET') return verdict('primary', 'primary: RESET', { pins: Pin.set, setStatement: true });
  // SET TRANSACTION … and SET TRANSACTION SNAPSHOT last one transaction: no pin.
  if (kind === 'VAR_SET_MULTI' && name.startsWith('TRANSACTION')) return verdict('primary', 'primary: SET TRANSACTION');
  // SET SESSION CHARACTERISTICS sets default_transaction_isolation among others.
  return verdict('primary', 'primary: SET', { pins: Pin.set, setStatement: true, stickySet: name === 'SESSION CHARACTERISTICS' || stickySetting(name) });
}

/**
 * BEGIN READ ONLY may run on a replica, unless SERIALIZABLE, which a hot standby refuses.
 * Ending a transaction goes wherever the transaction is (outside one it is a no-op anywhere).
 */
function transaction(body: Obj): Verdict {
  switch (body.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START': {
      let readOnly = false;
      let serializable = false;
      for (const item of list(body.options)) {
        const def = obj(obj(item).DefElem);
        const value = constant(def.arg);
        if (def.defname === 'transaction_read_only') readOnly = value === 1 || value === true;
        if (def.defname === 'transaction_isolation') serializable = value === 'serializable';
      }
      return readOnly && !serializable ? verdict('replica', 'replica: BEGIN READ ONLY') : verdict('primary', 'primary: BEGIN');
    }
    case 'TRANS_STMT_PREPARE':
      // The prepared transaction outlives the session; its client keeps the server until it is finished (lib/session/pins).
      return verdict('primary', 'primary: two-phase commit', { pins: Pin.preparedXact });
    case 'TRANS_STMT_COMMIT_PREPARED':
    case 'TRANS_STMT_ROLLBACK_PREPARED':
      return verdict('primary', 'primary: two-phase commit');
    default:
      return verdict('replica', 'replica: transaction control');
  }
}

/** A RangeVar (or IntoClause.rel) that is TEMPORARY or in pg_temp. */
function isTemp(rel: unknown): boolean {
  const r = obj(rel);
  return r.relpersistence === 't' || (str(r.schemaname) ?? '').startsWith('pg_temp');
}

/** DML, utility statements and DDL: always the primary; temporary objects pin the session. */
function utility(type: string, body: Obj, o: CompiledOptions): Verdict {
  const own = STATEMENT_REASONS[type];
  if (own !== undefined) {
    // These run what they contain (RETURNING, arguments, EXECUTE parameters): calls can pin.
    const w = new Walk(o);
    w.visit(body);
    return w.primary(`primary: ${own}`);
  }
  let pins = 0;
  switch (type) {
    case 'CreateStmt':
      if (isTemp(body.relation) && body.oncommit !== 'ONCOMMIT_DROP') pins = Pin.tempTable;
      break;
    case 'CreateTableAsStmt': {
      const into = obj(body.into);
      const w = new Walk(o);
      w.visit(body.query);
      pins = w.pins;
      if (isTemp(into.rel) && into.onCommit !== 'ONCOMMIT_DROP') pins |= Pin.tempTable;
      return verdict('primary', 'primary: DDL', { pins, unpins: w.unpins, stickySet: w.stickySet });
    }
    case 'ViewStmt':
      if (isTemp(body.view)) pins = Pin.tempTable;
      break;
    case 'CreateSeqStmt':
      if (isTemp(body.sequence)) pins = Pin.tempTable;
      break;
    case 'CreateFunctionStmt':
      if ((names(body.funcname)[0] ?? '').startsWith('pg_temp')) pins = Pin.tempTable;
      break;
    default:
      break;
  }
  return verdict('primary', 'primary: DDL', { pins });
}
