// Owns how the demo talks: plain lines on stdout, each tour step a numbered heading with what
// happened in words and the evidence beside it. pgmux's own log goes to stderr (tools/child).

export function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function heading(n: number, title: string): void {
  say('');
  say(`${n}. ${title}`);
}

/** One line of a step: what happened, then the evidence in brackets. */
export function fact(what: string, evidence?: string): void {
  say(evidence === undefined ? `   ${what}` : `   ${what.padEnd(58)} [${evidence}]`);
}

/** A server as the evidence shows it: its role and its port. */
export function serverOf(row: { port: number; standby: string }): string {
  return `${row.standby === 'on' ? 'replica' : 'primary'} :${row.port}`;
}

/**
 * Columns to add to a query so its answer says which server ran it. in_hot_standby is 'on' on a
 * standby (PostgreSQL 14+); pg_is_in_recovery() would not do, since pgmux sends it to the
 * primary on purpose (drivers call it to check they reached a primary).
 */
export const WHERE_COLUMNS = "inet_server_port() AS port, current_setting('in_hot_standby') AS standby";
