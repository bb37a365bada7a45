// Owns the console's commands: one { verb, handler } row each, matched case-insensitively, with
// what argument the verb takes and whether stats_users may run it. Semantics and texts are
// PgBouncer 1.18's (src/admin.c); KILL_CLIENT and SHOW STATE are pgmux additions taken from
// later PgBouncer versions.

import { commandComplete, noticeResponse, type ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import { findSetting, formatSetting, parseSettingValue, resolveDatabase, type Config, type SettingValue } from '../config';
import { log } from '../log';
import * as errors from './errors';
import { fakeShow, findView, FAKE_PARAMS, type ShowContext } from './show';
import { ADMIN_NAME } from './rows';
import type { Control } from './control';
import type { Registry } from '../pool/registry';
import type { ClientConnection } from '../client/client-connection';

/** Frames to send (ReadyForQuery is added by the session), an error, or nothing (SHUTDOWN). */
export type Reply = Buffer[] | ErrorFields | null;

/** What a command may reach. */
export interface CommandHost extends ShowContext {
  readonly control: Control;
  readonly registry: Registry;
  readonly shuttingDown: boolean;
  /** RELOAD: null when it worked, else why not. */
  reload(): string | null;
  /** SET: run with this config from now on; null, or why it could not. */
  applyConfig(next: Config): string | null;
  shutdown(): void;
}

export interface CommandContext {
  readonly host: CommandHost;
  /** The waiting session (owner of PAUSE/SUSPEND/WAIT_CLOSE waits). */
  readonly session: object;
  readonly isAdmin: boolean;
  readonly arg: string;
  /** The whole query text, for "invalid command '<query>'". */
  readonly query: string;
}

export interface Command {
  readonly verb: string;
  /** none: an argument is a syntax error; required: "a database is required" without one. */
  readonly arg: 'none' | 'optional' | 'required';
  /** false: stats_users may run it too. */
  readonly adminOnly: boolean;
  run(c: CommandContext): Reply | Promise<Reply>;
}

const done = (tag: string): Buffer[] => [commandComplete(tag)];

/** A database the console may act on: configured, or made from "*" (PgBouncer registers it). */
function lookupDatabase(c: CommandContext, verb: string): ErrorFields | string {
  const name = c.arg;
  if (name === ADMIN_NAME) return errors.adminDatabase(verb, name);
  if (resolveDatabase(c.host.registry.config, name) === undefined) return errors.noSuchDatabase(name);
  return name;
}

function issued(verb: string, arg: string): void {
  log.info(arg === '' ? `${verb} command issued` : `${verb} '${arg}' command issued`);
}

export const COMMANDS: readonly Command[] = [
  {
    verb: 'show',
    arg: 'optional',
    adminOnly: false,
    run: (c) => showCommand(c),
  },
  {
    // PgBouncer accepts SELECT as SHOW's synonym ("SELECT version" works there too).
    verb: 'select',
    arg: 'optional',
    adminOnly: false,
    run: (c) => showCommand(c),
  },
  {
    verb: 'pause',
    arg: 'optional',
    adminOnly: true,
    async run(c) {
      const control = c.host.control;
      if (control.mode !== 'none') return errors.alreadyPaused();
      issued('PAUSE', c.arg);
      if (c.arg === '') {
        await control.pauseAll(c.session);
        return done('PAUSE');
      }
      const db = lookupDatabase(c, 'pause');
      if (typeof db !== 'string') return db;
      await control.pauseDb(db, c.session);
      return done('PAUSE');
    },
  },
  {
    verb: 'resume',
    arg: 'optional',
    adminOnly: true,
    run(c) {
      const control = c.host.control;
      issued('RESUME', c.arg);
      if (c.arg === '') {
        if (c.host.shuttingDown) return errors.shuttingDown();
        if (control.mode === 'none') return errors.notPaused();
        control.resumeAll();
        return done('RESUME');
      }
      if (resolveDatabase(c.host.registry.config, c.arg) === undefined) return errors.noSuchDatabase(c.arg);
      if (!c.host.registry.pausedDbs.has(c.arg)) return errors.databaseNotPaused(c.arg);
      control.resumeDb(c.arg);
      return done('RESUME');
    },
  },
  {
    verb: 'suspend',
    arg: 'none',
    adminOnly: true,
    async run(c) {
      const control = c.host.control;
      if (control.mode !== 'none') return errors.alreadyPaused();
      if (c.host.registry.pausedDbs.size > 0) return errors.suspendWithPausedDatabases();
      issued('SUSPEND', '');
      await control.suspend(c.session);
      return done('SUSPEND');
    },
  },
  {
    verb: 'disable',
    arg: 'required',
    adminOnly: true,
    run(c) {
      issued('DISABLE', c.arg);
      const db = lookupDatabase(c, 'disable');
      if (typeof db !== 'string') return db;
      c.host.registry.disabledDbs.add(db);
      return done('DISABLE');
    },
  },
  {
    verb: 'enable',
    arg: 'required',
    adminOnly: true,
    run(c) {
      issued('ENABLE', c.arg);
      // PgBouncer 1.18 words this refusal "cannot disable" as well.
      const db = lookupDatabase(c, 'disable');
      if (typeof db !== 'string') return db;
      c.host.registry.disabledDbs.delete(db);
      return done('ENABLE');
    },
  },
  {
    verb: 'reconnect',
    arg: 'optional',
    adminOnly: true,
    run(c) {
      issued('RECONNECT', c.arg);
      if (c.arg === '') {
        c.host.control.reconnect(null);
        return done('RECONNECT');
      }
      const db = lookupDatabase(c, 'reconnect');
      if (typeof db !== 'string') return db;
      c.host.control.reconnect(db);
      return done('RECONNECT');
    },
  },
  {
    verb: 'kill',
    arg: 'required',
    adminOnly: true,
    run(c) {
      issued('KILL', c.arg);
      const db = lookupDatabase(c, 'kill');
      if (typeof db !== 'string') return db;
      c.host.control.kill(db);
      return done('KILL');
    },
  },
  {
    verb: 'kill_client',
    arg: 'required',
    adminOnly: true,
    run(c) {
      // The id as SHOW CLIENTS prints it in ptr (0x1f) or as log lines do (C-31 is 31).
      const id = /^(0x[0-9a-f]+|[0-9]+)$/i.test(c.arg) ? Number(c.arg) : NaN;
      if (!Number.isSafeInteger(id)) return errors.invalidClientId();
      let target: ClientConnection | undefined;
      for (const client of c.host.registry.clients) if (client.id === id) target = client;
      if (target === undefined || target.state === 'closed') return errors.clientNotFound();
      log.info(`KILL_CLIENT '${c.arg}' command issued`);
      target.fail(refusals.adminForcedDisconnect());
      return done('KILL_CLIENT');
    },
  },
  {
    verb: 'wait_close',
    arg: 'optional',
    adminOnly: true,
    async run(c) {
      issued('WAIT_CLOSE', c.arg);
      let db: string | null = null;
      if (c.arg !== '') {
        const found = lookupDatabase(c, 'wait in');
        if (typeof found !== 'string') return found;
        db = found;
      }
      await c.host.control.waitClose(db, c.session);
      return done('WAIT_CLOSE');
    },
  },
  {
    verb: 'reload',
    arg: 'none',
    adminOnly: true,
    run(c) {
      issued('RELOAD', '');
      const failure = c.host.reload();
      return failure === null ? done('RELOAD') : errors.reloadFailed(failure);
    },
  },
  {
    verb: 'shutdown',
    arg: 'none',
    adminOnly: true,
    run(c) {
      issued('SHUTDOWN', '');
      // No answer: the connection stays open until the process is gone, as in PgBouncer.
      c.host.shutdown();
      return null;
    },
  },
];

function showCommand(c: CommandContext): Reply {
  const fake = fakeShow(c.arg);
  if (fake !== null) return fake;
  const view = findView(c.arg);
  if (view === undefined) return errors.invalidCommand(c.query);
  if (view.adminOnly === true && !c.isAdmin) return errors.adminAccessNeeded();
  return view.render(c.host);
}

export function findCommand(verb: string): Command | undefined {
  const key = verb.toLowerCase();
  return COMMANDS.find((cmd) => cmd.verb === key);
}

/** SET key = value: faked client parameters are ignored; settings change for reloadable keys. */
export function setCommand(host: CommandHost, isAdmin: boolean, key: string, value: string): Reply {
  if (FAKE_PARAMS.has(key.toLowerCase())) {
    return [noticeResponse({ severity: 'NOTICE', code: '00000', message: 'SET ignored' }), commandComplete('SET')];
  }
  if (!isAdmin) return errors.adminAccessNeeded();
  const named = findSetting(key);
  const row = named?.aliasOf !== undefined ? findSetting(named.aliasOf) : named;
  if (row === undefined) {
    log.error(`unknown parameter: pgbouncer/${key}`);
    return errors.setFailed();
  }
  // PgBouncer 1.18 answers SET for a restart-only key and silently keeps the old value; pgmux says so.
  if (!row.reloadable) return errors.setFailed(`${row.name} cannot be changed while pgmux runs; set it in the config file and restart`);
  const parsed = parseSettingValue(row, value);
  if (!parsed.ok) return errors.setFailed(`${key} = "${value}" is not valid; expected ${parsed.expected}`);
  const allowed = row.supportedValues;
  if (allowed !== undefined && typeof parsed.value === 'string' && !allowed.includes(parsed.value)) {
    return errors.setFailed(`${row.name} = ${parsed.value} is not supported by pgmux yet; use one of: ${allowed.join(', ')}`);
  }
  const current: Readonly<Record<string, SettingValue | undefined>> = host.registry.settings;
  const before = current[row.name];
  if (!row.supported && before !== undefined && formatSetting(row, parsed.value) !== formatSetting(row, before)) {
    return errors.setFailed(`${row.name} is not supported by pgmux yet`);
  }
  const settings = { ...current, [row.name]: parsed.value };
  // Same keys as before, the changed one parsed by its own row: still a Settings.
  const failure = host.applyConfig({ ...host.registry.config, settings: settings as unknown as Config['settings'] });
  if (failure !== null) return errors.setFailed(failure);
  log.info(`SET ${row.name}=${value}`);
  return done(`SET ${key}=${value}`);
}
