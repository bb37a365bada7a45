// Owns how one client proves who it is, after its StartupMessage: the method (auth_type, or
// under hba the first matching rule's), the user's secret (auth_file, else auth_query when an
// auth_user applies), the pool (taken only for users that exist), and the challenge/answer
// exchange. The connection hears the outcome once, through `done`. A database that does not
// exist (or is disabled) is refused only after the password was proven, as PgBouncer 1.18 and
// PostgreSQL do, so that a client without it cannot probe database names.

import type { ClientSocket } from './client-socket';
import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { Secret } from '../auth/secret';
import { certLoginProblem } from '../auth/tls';
import type { Pool } from '../pool/pool';
import type { HbaLogin } from '../auth/hba';
import { log, type LogSubject } from '../log';
import { ClientAuth, type AuthStep } from './authenticate';
import type { ClientContext } from './client-context';

export type LoginOutcome =
  /** Authenticated. `pool` is null for the admin console; `final` (SASLFinal) goes out first. */
  | { kind: 'ok'; pool: Pool | null; final: Buffer | null; scramKeys: { clientKey: Buffer; serverKey: Buffer } | null }
  | { kind: 'refused'; error: ErrorFields };

/** The connection as its login sees it. */
export interface LoginSubject extends LogSubject {
  readonly user: string;
  readonly database: string;
  /** On TLS (hba hostssl/hostnossl, cert). */
  readonly tls: boolean;
  /** Where challenges go; its peer address selects hba rules. */
  readonly socket: ClientSocket;
  /** Still logging in: false once it closed or timed out while a lookup was under way. */
  readonly inAuth: boolean;
}

/** The outcome of a login that needs no password (trust, cert, the console's own-user rule). */
export const TRUSTED: LoginOutcome = { kind: 'ok', pool: null, final: null, scramKeys: null };

export class LoginAuth {
  private authType = '';
  private auth: ClientAuth | null = null;
  private pool: Pool | null = null;
  /** The database's refusal (no such database, disabled), told once the client has authenticated. */
  private refusal: ErrorFields | null = null;
  /** A password check running off the event loop; settles once its outcome was handled. */
  private check: Promise<void> | null = null;

  constructor(
    private readonly ctx: ClientContext,
    private readonly subject: LoginSubject,
    /** Logging in to database "pgbouncer": no pool, no auth_query. */
    private readonly forConsole: boolean,
    private readonly done: (outcome: LoginOutcome) => void,
  ) {}

  /** A password message is expected now (not while the last one is being checked). */
  get awaitingAnswer(): boolean {
    return this.auth !== null && this.check === null;
  }

  /**
   * The check of the client's answer, while it runs off the event loop (PBKDF2); it settles
   * after the outcome went to `done`, or was dropped because the client left meanwhile.
   */
  get checking(): Promise<void> | null {
    return this.check;
  }

  /**
   * Settles the method and the user's secret, then sends the first challenge. The lookup may
   * take a server round trip; the client stays in 'auth' meanwhile, under client_login_timeout.
   */
  start(): void {
    const s = this.subject;
    const { authType, rule } = this.ctx.authTypeFor(new HbaQuestion(s));
    this.authType = authType;
    if (rule !== null) log.debug(`hba: ${rule} matched, method ${authType}`, s);
    if (authType === 'reject') {
      this.done({ kind: 'refused', error: refusals.loginRejected() });
      return;
    }
    if (authType === 'peer') {
      // Node cannot read a Unix socket peer's credentials, so no peer can be proven.
      this.done({ kind: 'refused', error: refusals.peerAuthFailed() });
      return;
    }
    const known = this.ctx.userSecret(s.user);
    const lookup = known !== undefined || this.forConsole || authType === 'any' ? null : this.ctx.queryUserSecret(s.database, s.user);
    if (lookup === null) {
      this.challenge(known);
      return;
    }
    void lookup.then((found) => {
      if (!s.inAuth) return; // closed, or timed out, while the server answered
      if (found.kind === 'error') {
        log.warn(`auth_query: ${found.reason}`, s);
        this.done({ kind: 'refused', error: refusals.authQueryFailed() });
        return;
      }
      this.challenge(found.kind === 'found' ? found.secret : undefined);
    });
  }

  /** The client's answer to a challenge (a 'p' message, whole frame). */
  answer(buf: Buffer, start: number, end: number): void {
    this.step((this.auth as ClientAuth).answer(buf, start, end));
  }

  /**
   * Takes the pool, then sends the first challenge. Only a user that exists gets a pool (as
   * PgBouncer's mock users get none), so made-up user names cannot pile up pools.
   */
  private challenge(secret: Secret | undefined): void {
    if (!this.forConsole && (secret !== undefined || this.authType === 'any')) {
      const pool = this.ctx.findPool(this.subject.database, this.subject.user);
      if (pool instanceof Object && 'clientLoggedIn' in pool) this.pool = pool;
      else this.refusal = pool as ErrorFields;
    }
    this.step(this.begin(secret));
  }

  /** The first step: auth_type cert is decided at once, the others by ClientAuth. */
  private begin(secret: Secret | undefined): AuthStep {
    if (this.authType === 'cert') {
      // As PgBouncer, the user must also be known (auth_file): its secret logs in to the server.
      const problem = certLoginProblem(this.subject.socket, this.subject.user) ?? (secret === undefined ? 'no such user in auth_file' : null);
      return problem === null ? { kind: 'ok', final: null, scramKeys: null } : { kind: 'failed', reason: problem };
    }
    this.auth = new ClientAuth(this.authType, this.subject.user, secret, () => this.subject.inAuth);
    return this.auth.start();
  }

  private step(step: AuthStep): void {
    const s = this.subject;
    switch (step.kind) {
      case 'send':
        s.socket.write(step.bytes);
        return;
      case 'checking':
        this.check = step.result.then((next) => {
          this.check = null;
          if (s.inAuth) this.step(next);
          // Closed, or timed out, while the check ran: neither welcomed nor refused again.
          else log.debug('password check ended after the client left; outcome dropped', s);
        });
        return;
      case 'failed': {
        const authType = this.authType;
        log.info(`${authType === 'cert' ? 'certificate' : 'password'} authentication failed: ${step.reason}`, s);
        // Under trust the only failure is a user missing from auth_file: PgBouncer's own text.
        const error =
          step.refusal ??
          (authType === 'cert' ? refusals.certAuthFailed() : authType === 'trust' ? refusals.trustAuthFailed() : refusals.authFailed(s.user));
        this.done({ kind: 'refused', error });
        return;
      }
      case 'ok': {
        this.auth = null;
        if (this.forConsole) {
          this.done({ kind: 'ok', pool: null, final: step.final, scramKeys: step.scramKeys });
          return;
        }
        if (this.pool === null) {
          // The database's refusal, now that the client proved who it is. (Without one this
          // cannot happen: only a user with a secret, or auth_type any, gets past a challenge.)
          this.done({ kind: 'refused', error: this.refusal ?? refusals.authFailed(s.user) });
          return;
        }
        // Looked up again: the database may have been disabled, or (made from '*' and idle) dropped, meanwhile.
        const pool = this.ctx.findPool(s.database, s.user);
        if (!(pool instanceof Object && 'clientLoggedIn' in pool)) {
          this.done({ kind: 'refused', error: pool as ErrorFields });
          return;
        }
        this.done({ kind: 'ok', pool, final: step.final, scramKeys: step.scramKeys });
        return;
      }
    }
  }
}

/**
 * What the hba rules are asked about a login. A class, not an object literal: a literal with a
 * getter defines its accessor afresh at every login (2 % of pgmux's user CPU under pgbench -C).
 */
class HbaQuestion implements HbaLogin {
  readonly tls: boolean;
  readonly database: string;
  readonly user: string;

  constructor(private readonly subject: LoginSubject) {
    this.tls = subject.tls;
    this.database = subject.database;
    this.user = subject.user;
  }

  /** Asked of the socket (a getpeername system call) only when an hba rule needs it. */
  get address(): string | null {
    return this.subject.socket.remoteAddress ?? null;
  }
}
