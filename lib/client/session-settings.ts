// Owns the client's side of lib/session/settings: the settings a client is welcomed with, and
// reading back, on the server a transaction ran on, what that transaction left of them.

import { SessionSettings, SettingValues, settingRow } from '../session/settings';
import type { TrackedParams } from '../server/params';
import type { InternalReader, ServerConnection } from '../server/server-connection';
import type { ErrorFields } from '../protocol/backend';

/**
 * A new client's session settings: every parameter but those PostgreSQL reports to it
 * (../server/params syncs those), starting with the startup packet's `options` switches and the
 * tracked parameters the server does not report (track_extra_parameters = search_path).
 */
export function welcomeSettings(
  serverParams: ReadonlyMap<string, string>,
  startupSettings: ReadonlyMap<string, string>,
  startupParams: ReadonlyMap<string, string>,
  tracked: TrackedParams,
): SessionSettings {
  // Usually nothing: no `options`, every tracked parameter reported (no Map made for that, per login).
  let initial: Map<string, string> | null = startupSettings.size > 0 ? new Map(startupSettings) : null;
  for (const [name, value] of startupParams) if (!serverParams.has(name)) (initial ??= new Map()).set(name.toLowerCase(), value);
  return new SessionSettings(initial === null ? SettingValues.EMPTY : SettingValues.of(initial), reportedBy(serverParams, tracked));
}

/**
 * The settings of a session another process carried here (lib/client/carried-session): its
 * values, and the parameters its pool's servers report (`reported`), which stay ../server/params'.
 */
export function carriedSettings(values: Iterable<readonly [string, string]>, reported: readonly string[], tracked: TrackedParams): SessionSettings {
  return new SessionSettings(SettingValues.of(new Map(values)), reportedBy(new Map(reported.map((name) => [name, ''])), tracked));
}

/** One `reported` test per pool's server parameters, shared by its clients (not a closure per client). */
const reportedTests = new WeakMap<ReadonlyMap<string, string>, { tracked: TrackedParams; reported: (name: string) => boolean }>();

/** Whether PostgreSQL reports a parameter (../server/params follows those, not the session settings). */
function reportedBy(serverParams: ReadonlyMap<string, string>, tracked: TrackedParams): (name: string) => boolean {
  const known = reportedTests.get(serverParams);
  if (known !== undefined && known.tracked === tracked) return known.reported;
  const reported = (name: string): boolean => {
    const canonical = tracked.lookup(name);
    return canonical !== undefined && serverParams.has(canonical);
  };
  reportedTests.set(serverParams, { tracked, reported });
  return reported;
}

/**
 * Asks `server` what the transaction that just ended left of the settings it touched. The
 * server's record and the client's values both become the answer; `done` is told when it is in
 * (with the error, when the read failed: that server then serves no one again, its state unknown).
 */
export function readSettingsBack(settings: SessionSettings, server: ServerConnection, done: { settingsReadBack(server: ServerConnection, error: ErrorFields | null): void }): void {
  const back = settings.readBack();
  const reader: InternalReader = {
    row: (buf, start, end) => {
      const r = settingRow(buf, start, end);
      if (r !== null) back.row(r.name, r.value);
    },
    done: (srv, error) => {
      if (error !== null) srv.closeOnRelease = true;
      else srv.settings = back.finish();
      done.settingsReadBack(srv, error);
    },
  };
  server.runInternal(back.sql, reader);
}
