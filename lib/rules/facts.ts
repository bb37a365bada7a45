// Owns what the rules and the result cache need to know about a statement text that only
// PostgreSQL's grammar can tell (libpg-query, the WASM parser the classifier loads): its commands
// (a rule's kind=), the tables it reads and writes, whether its answer can depend on anything
// but the tables it reads and its parameters, and its fingerprint. Computed once per distinct
// statement shape, off the per-execution path (lib/rules/statements caches it); never throws.

import { fingerprintSync, parseSync } from 'libpg-query';
import { type Obj, isObj, list, str, nodeOf, withinStack } from '../parse-tree';
import { RULE_KINDS, type RuleKind } from '../config';

/** A RuleKind as a bit, so a statement's commands are one number. */
export function kindBit(kind: RuleKind): number {
  return 1 << RULE_KINDS.indexOf(kind);
}

/** Writes a statement makes: the tables, or ALL when pgmux cannot tell which (DDL, DO, CALL, EXECUTE ...). */
export const ALL = 'all';
export type Writes = readonly string[] | typeof ALL;

export interface StatementFacts {
  /** Bits of the commands (kindBit); read/write are the classifier's and are added by the caller. */
  readonly commands: number;
  /** Tables read, as PostgreSQL folds names (lower case unless quoted); schema dropped. */
  readonly reads: readonly string[];
  /** Tables written, ALL, or empty. A volatile function's writes are the caller's to add (it knows the classification). */
  readonly writes: Writes;
  /** The statement changes the catalog (DDL, GRANT): what is cacheable may have changed. */
  readonly ddl: boolean;
  /** Functions called (bare names): all must be immutable for the answer to be cached. */
  readonly functions: readonly string[];
  /** Names of common table expressions (WITH x AS ...): a read of one is no table, unless a relation has that name. */
  readonly ctes: readonly string[];
  /** Why its answer is never cached (not a plain read, a time value ...), or null. */
  readonly uncacheable: string | null;
  /** libpg-query's fingerprint (16 hex digits), or '' when it cannot be computed. */
  readonly fingerprint: string;
}

const COMMAND: Readonly<Record<string, RuleKind>> = {
  SelectStmt: 'select',
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  CopyStmt: 'copy',
  TruncateStmt: 'truncate',
  VariableSetStmt: 'set',
  VariableShowStmt: 'show',
  TransactionStmt: 'transaction',
  ExplainStmt: 'explain',
  CallStmt: 'call',
  DoStmt: 'do',
  VacuumStmt: 'vacuum',
  LockStmt: 'lock',
  GrantStmt: 'grant',
  GrantRoleStmt: 'grant',
  AlterDefaultPrivilegesStmt: 'grant',
};

/** Statements that change neither data nor the catalog. */
const NO_WRITES: ReadonlySet<string> = new Set([
  'SelectStmt', 'VariableSetStmt', 'VariableShowStmt', 'TransactionStmt', 'ListenStmt', 'UnlistenStmt', 'NotifyStmt',
  'DiscardStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt', 'PrepareStmt', 'DeallocateStmt', 'VacuumStmt',
  'CheckPointStmt', 'LockStmt', 'LoadStmt', 'ConstraintsSetStmt', 'ExplainStmt',
]);

/** Tables named by `rel` (a RangeVar body): its bare name as PostgreSQL would fold it (libpg-query already did). */
function relName(rel: unknown): string | undefined {
  const r = isObj(rel) && isObj(rel.RangeVar) ? rel.RangeVar : rel;
  return isObj(r) ? str(r.relname) : undefined;
}

/** Walks a subtree collecting reads, functions and what makes the answer uncacheable. */
class Walk {
  readonly reads = new Set<string>();
  readonly writes = new Set<string>();
  readonly functions = new Set<string>();
  readonly ctes = new Set<string>();
  uncacheable: string | null = null;

  private flag(why: string): void {
    this.uncacheable ??= why;
  }

  visit(v: unknown): void {
    if (Array.isArray(v)) {
      for (const item of v) this.visit(item);
      return;
    }
    if (!isObj(v)) return;
    for (const key in v) {
      const child = v[key];
      if (isObj(child)) this.node(key, child);
      if (typeof child === 'object' && child !== null) this.visit(child);
    }
  }

  private node(key: string, body: Obj): void {
    switch (key) {
      case 'RangeVar': {
        const name = str(body.relname);
        if (name === undefined) return;
        if (body.relpersistence === 't' || (str(body.schemaname) ?? '').startsWith('pg_temp')) this.flag('temporary table');
        // Even a common table expression's name: which one a name means depends on scope, and
        // a write to a table of that name must still reach the answers (the catalog sorts it out).
        this.reads.add(name);
        return;
      }
      case 'CommonTableExpr': {
        const name = str(body.ctename);
        if (name !== undefined) this.ctes.add(name);
        return;
      }
      case 'FuncCall': {
        const parts = list(body.funcname).map((item) => (isObj(item) && isObj(item.String) ? (str(item.String.sval) ?? '') : ''));
        const name = parts[parts.length - 1];
        if (name !== undefined && name !== '') this.functions.add(name);
        return;
      }
      case 'SQLValueFunction':
        this.flag('current date, time or user');
        return;
      case 'RangeTableSample':
        this.flag('TABLESAMPLE');
        return;
      case 'LockingClause':
        this.flag('locking read');
        return;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        const name = relName(body.relation);
        if (name !== undefined) this.writes.add(name);
        this.flag('writes');
        return;
      }
      default:
        return;
    }
  }
}

const FAILED: StatementFacts = Object.freeze({
  commands: kindBit('other'),
  reads: [],
  writes: ALL,
  ddl: false,
  functions: [],
  ctes: [],
  uncacheable: 'not parsable',
  fingerprint: '',
});

/**
 * The facts of `sql` (one or several statements). A text the grammar refuses gets facts that
 * match only kind=other, write everything and are never cached: the safe side everywhere.
 */
export function statementFacts(sql: string): StatementFacts {
  // A tree too deep to walk gets the facts of an unparsable text: the safe side everywhere.
  return withinStack(() => factsOf(sql), FAILED);
}

function factsOf(sql: string): StatementFacts {
  let stmts: readonly unknown[];
  try {
    stmts = list(parseSync(sql).stmts);
  } catch {
    return FAILED;
  }
  let commands = 0;
  let ddl = false;
  let all = false;
  const w = new Walk();
  let uncacheable: string | null = stmts.length === 0 ? 'empty' : null;
  for (const raw of stmts) {
    const n = nodeOf(isObj(raw) ? raw.stmt : undefined);
    if (n === undefined) return FAILED;
    const [type, body] = n;
    const kind = commandOf(type);
    commands |= kindBit(kind);
    if (kind === 'create' || kind === 'alter' || kind === 'drop' || kind === 'grant') {
      commands |= kindBit('ddl');
      ddl = true;
    }
    w.visit(body);
    if (isDml(type)) {
      const target = relName(body.relation);
      if (target !== undefined) w.writes.add(target);
      else all = true;
    }
    if (type !== 'SelectStmt') uncacheable ??= `not a plain read (${type.replace(/Stmt$/, '')})`;
    else if (isObj(body.intoClause)) {
      uncacheable ??= 'SELECT INTO';
      ddl = true;
    }
    switch (type) {
      case 'TruncateStmt':
        for (const r of list(body.relations)) {
          const name = relName(r);
          if (name !== undefined) w.writes.add(name);
        }
        break;
      case 'CopyStmt': {
        const name = relName(body.relation);
        if (body.is_from === true && name !== undefined) w.writes.add(name);
        else if (body.is_from === true) all = true;
        break;
      }
      case 'RefreshMatViewStmt': {
        const name = relName(body.relation);
        if (name !== undefined) w.writes.add(name);
        else all = true;
        break;
      }
      case 'ExplainStmt':
        // EXPLAIN ANALYZE of a write runs it: its walk found the target.
        break;
      default:
        if (!NO_WRITES.has(type) && COMMAND[type] === undefined && !isDml(type)) all = true;
        if (type === 'CallStmt' || type === 'DoStmt' || type === 'ExecuteStmt') all = true;
    }
  }
  let fingerprint = '';
  try {
    fingerprint = fingerprintSync(sql);
  } catch {
    /* '' matches no fingerprint= */
  }
  return {
    commands,
    reads: [...w.reads],
    writes: all || ddl ? ALL : [...w.writes],
    ddl,
    functions: [...w.functions],
    ctes: [...w.ctes],
    uncacheable: uncacheable ?? w.uncacheable,
    fingerprint,
  };
}

function isDml(type: string): boolean {
  return type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt';
}

/** The command a statement node type is, as rules name it. */
function commandOf(type: string): RuleKind {
  const known = COMMAND[type];
  if (known !== undefined) return known;
  if (type === 'DropStmt' || type.startsWith('Drop')) return 'drop';
  if (type.startsWith('Create') || type === 'IndexStmt' || type === 'ViewStmt' || type === 'DefineStmt' || type === 'CompositeTypeStmt') return 'create';
  if (type.startsWith('Alter') || type === 'RenameStmt' || type === 'CommentStmt' || type === 'SecLabelStmt' || type === 'ReassignOwnedStmt') return 'alter';
  return 'other';
}

/**
 * A string literal whose value is a point in time only as of now ('now', 'today', ...): cast to
 * a date or time type it gives a different answer tomorrow. Checked on every text, not per shape.
 */
const TIME_WORDS = /'\s*(now|today|tomorrow|yesterday)\s*'/i;

export function hasTimeWord(sql: string): boolean {
  return TIME_WORDS.test(sql);
}
