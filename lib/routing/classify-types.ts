// Owns the plain data a statement classification is made of (target, reason code, session pins,
// hints) and the internal verdict both classifier tiers build, with how verdicts of the
// statements of one multi-statement string combine.

import { ALL_PINS, PIN_REASONS, Pin, type PinReason } from '../session/pins';

/** Where a statement may run. */
export type Target = 'primary' | 'replica';

/**
 * Session state that only exists on the server that created it, so the client must stay on
 * the primary until it is released (session end, or the matching unpin). The reasons and their
 * bits are the session's account's (lib/session/pins).
 */
export { ALL_PINS, Pin, type PinReason };

/** A leading comment `/* pgmux:primary *\/` or `/* pgmux:replica *\/`. */
export type RouteHint = 'primary' | 'replica';

/** `SET pgmux.route = primary | replica | auto` (RESET and DEFAULT mean auto). */
export type SessionRoute = 'primary' | 'replica' | 'auto';

/** Which tier settled the statement: the hand-written lexer or PostgreSQL's grammar. */
export type Tier = 'lexer' | 'parser';

/** The classifier's answer for one statement text. Plain readonly data, shared by the caches: never mutate. */
export interface Classification {
  readonly target: Target;
  /**
   * A stable reason code, `<target>: <why>`, for SHOW ROUTE and debug logs, e.g.
   * 'replica: plain select', 'primary: writing CTE', 'primary: FOR UPDATE',
   * 'primary: volatile function nextval', 'primary: hint'.
   */
  readonly reason: string;
  readonly tier: Tier;
  /** Session state this statement creates: the router pins the client to the primary. */
  readonly pins?: readonly PinReason[];
  /**
   * The 'set' pin is only settings that follow the client to any server, replicas included
   * (lib/session/settings replays them; ../server/params syncs the reported ones): the router
   * does not pin for it. Still session state for the result cache (lib/rules), which keys by text.
   */
  readonly setFollows?: boolean;
  /** Every statement of the text is a SET or RESET that follows the client: on the primary, but no write (read_your_writes). */
  readonly onlySettings?: boolean;
  /** Session state this statement releases (applied before `pins`). */
  readonly unpins?: readonly PinReason[];
  /** The leading-comment hint, when there was one (whether or not it changed the target). */
  readonly hint?: RouteHint;
  /** Set when the statement is `SET pgmux.route = …` / `RESET pgmux.route` (or RESET/DISCARD ALL). */
  readonly sessionRoute?: SessionRoute;
  /** `SET pgmux.key = '…'` (the key), `RESET pgmux.key`, RESET ALL or DISCARD ALL (null); else absent. */
  readonly sessionKey?: string | null;
  /**
   * Called functions the classifier could not judge (not built in, not in the settings lists,
   * `isVolatile` said undefined): they sent the statement to the primary. The router may look
   * them up in pg_proc and call Classifier.invalidate().
   */
  readonly unknownFunctions?: readonly string[];
  /** On the primary only because of user functions (volatile or unknown): a replica hint or rule may override. */
  readonly onlyFunctions?: boolean;
  /**
   * Set when the text PREPAREs, EXECUTEs or DEALLOCATEs SQL-level prepared statements. The
   * target above counts every EXECUTE as a write, since the text alone cannot say what it runs;
   * the router, which knows what the client prepared under each name, decides with these.
   */
  readonly prepared?: PreparedUses;
}

/** What a text does with SQL-level prepared statements, statement by statement. */
export interface PreparedUses {
  /** In the text's order. */
  readonly uses: readonly PreparedUse[];
  /** The text's other statements together; null when it has none. */
  readonly rest: Classification | null;
}

export interface PreparedUse {
  readonly kind: 'prepare' | 'execute' | 'deallocate';
  /** The statement's name as PostgreSQL reads it; null for DEALLOCATE ALL. */
  readonly name: string | null;
  /** PREPARE: the prepared statement's classification; EXECUTE: its arguments'; DEALLOCATE: null. */
  readonly classification: Classification | null;
}

/** What the classifier needs to know beyond the text. All optional. */
export interface ClassifyOptions {
  /** The `write_functions` setting: calling any of these sends the statement to the primary. */
  readonly writeFunctions?: readonly string[];
  /** The `read_only_functions` setting: these never send a statement to the primary by volatility. */
  readonly readOnlyFunctions?: readonly string[];
  /**
   * Volatility of a user function, from pg_proc of the database (provolatile = 'v' → true),
   * undefined when unknown. Asked only for functions that are neither in the built-in lists nor
   * in the two settings lists; `schema` is given when the call was schema-qualified.
   */
  readonly isVolatile?: (name: string, schema?: string) => boolean | undefined;
  /** Longest text handed to the parser; longer unsure statements go to the primary. */
  readonly maxParseLength?: number;
}

/**
 * Settings whose SET keeps a routed client on the primary, although pgmux replays SETs on any
 * server: default_transaction_isolation (SERIALIZABLE fails every transaction on a hot standby),
 * session_authorization (not followed: a superuser's, reported by PostgreSQL), pgmux's own
 * `pgmux.*` other than pgmux.route / pgmux.key (never replayed). A SET SESSION CHARACTERISTICS
 * counts as default_transaction_isolation; a set_config whose name is not a literal as unknown.
 */
export function stickySetting(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'default_transaction_isolation' || n === 'session_authorization' || n.startsWith('pgmux.');
}

/** One frozen array per bit mask, built once: the classifications share them. */
const PIN_LISTS: readonly (readonly PinReason[])[] = Array.from({ length: ALL_PINS + 1 }, (_, mask) =>
  Object.freeze(PIN_REASONS.filter((_, bit) => (mask & (1 << bit)) !== 0)),
);

export function pinList(mask: number): readonly PinReason[] {
  return PIN_LISTS[mask & ALL_PINS];
}

/**
 * Why a statement goes to the primary, strongest first when one statement has several: the
 * reason code reports the strongest (then the earliest in the text), so both tiers agree.
 */
export const Rank = {
  /** A user function that is volatile or unknown: a `pgmux:replica` hint may override it. */
  userFunction: 1,
  /** A built-in or `write_functions` function (nextval, pg_advisory_lock, …). */
  writeFunction: 2,
  /** FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE. */
  locking: 3,
  selectInto: 4,
  writingCte: 5,
  /** The statement itself writes (INSERT, DDL, …). */
  statement: 6,
} as const;

/** A tier's internal answer before hints are applied. Built fresh or shared as a constant. */
export interface Verdict {
  readonly target: Target;
  readonly reason: string;
  readonly pins: number;
  readonly unpins: number;
  /** A SET of it must keep the client on the primary (see STICKY_SETTINGS); false for the SETs that follow the client. */
  readonly stickySet: boolean;
  /** A session SET or RESET statement, nothing else (combine: of every statement). */
  readonly setStatement: boolean;
  readonly sessionRoute?: SessionRoute;
  readonly sessionKey?: string | null;
  readonly unknownFunctions?: readonly string[];
  /** Primary only because of user functions (volatile or unknown): a replica hint may override. */
  readonly onlyFunctions: boolean;
  /** The answer depends on a literal's value, so it must not be cached by normalized text. */
  readonly literalSensitive: boolean;
  /** False for answers that may change without the text changing (parser not loaded yet). */
  readonly cacheable: boolean;
  /** The parser's reading of PREPARE / EXECUTE / DEALLOCATE in the text (Classification.prepared). */
  readonly prepared?: { readonly uses: readonly VerdictUse[]; readonly rest: Verdict | null };
}

export interface VerdictUse {
  readonly kind: PreparedUse['kind'];
  readonly name: string | null;
  readonly verdict: Verdict | null;
}

export interface VerdictExtras {
  pins?: number;
  unpins?: number;
  stickySet?: boolean;
  setStatement?: boolean;
  sessionRoute?: SessionRoute;
  sessionKey?: string | null;
  unknownFunctions?: readonly string[];
  onlyFunctions?: boolean;
  literalSensitive?: boolean;
  cacheable?: boolean;
}

export function verdict(target: Target, reason: string, extras: VerdictExtras = {}): Verdict {
  return {
    target,
    reason,
    pins: extras.pins ?? 0,
    unpins: extras.unpins ?? 0,
    stickySet: extras.stickySet ?? false,
    setStatement: extras.setStatement ?? false,
    sessionRoute: extras.sessionRoute,
    sessionKey: extras.sessionKey,
    unknownFunctions: extras.unknownFunctions,
    onlyFunctions: extras.onlyFunctions ?? false,
    literalSensitive: extras.literalSensitive ?? false,
    cacheable: extras.cacheable ?? true,
  };
}

/**
 * The verdict of statement `a` followed by statement `b` in one string: the primary if either
 * needs it (reporting the first such reason); unpins apply before pins, so a pin released by
 * `b` does not survive: pins = (a.pins − b.unpins) ∪ b.pins, unpins = a.unpins ∪ b.unpins.
 */
export function combine(a: Verdict, b: Verdict): Verdict {
  const aPrimary = a.target === 'primary';
  const bPrimary = b.target === 'primary';
  const unknown =
    a.unknownFunctions && b.unknownFunctions
      ? [...a.unknownFunctions, ...b.unknownFunctions]
      : (a.unknownFunctions ?? b.unknownFunctions);
  return {
    target: aPrimary || bPrimary ? 'primary' : 'replica',
    reason: aPrimary || !bPrimary ? a.reason : b.reason,
    pins: (a.pins & ~b.unpins) | b.pins,
    unpins: a.unpins | b.unpins,
    stickySet: a.stickySet || b.stickySet,
    setStatement: a.setStatement && b.setStatement,
    sessionRoute: b.sessionRoute ?? a.sessionRoute,
    sessionKey: b.sessionKey !== undefined ? b.sessionKey : a.sessionKey,
    unknownFunctions: unknown,
    onlyFunctions: (!aPrimary || a.onlyFunctions) && (!bPrimary || b.onlyFunctions),
    literalSensitive: a.literalSensitive || b.literalSensitive,
    cacheable: a.cacheable && b.cacheable,
  };
}
