// Owns what the LISTEN/NOTIFY specs share: collecting a node-postgres client's notifications and
// notices as they come, and waiting for a count of them without sleeping.

import type { Client, Notification } from 'pg';
import { waitFor } from '../support/wait';

/** Notifications and notices one client received, in order. */
export class Inbox {
  readonly notifications: Notification[] = [];
  readonly notices: string[] = [];

  constructor(client: Client) {
    client.on('notification', (n) => this.notifications.push(n));
    client.on('notice', (n) => this.notices.push(n.message ?? ''));
  }

  /** Payloads received on `channel` (all channels when omitted). */
  payloads(channel?: string): string[] {
    return this.notifications.filter((n) => channel === undefined || n.channel === channel).map((n) => n.payload ?? '');
  }

  /** Resolves once at least `n` notifications (on `channel`, if given) have come. */
  async count(n: number, channel?: string, timeoutMs = 10000): Promise<string[]> {
    await waitFor(`${n} notifications${channel === undefined ? '' : ` on ${channel}`}`, () => this.payloads(channel).length >= n, timeoutMs);
    return this.payloads(channel);
  }
}

/**
 * Proves nothing more arrives on `channel`: a marker NOTIFY sent after everything else (by
 * `notify`, on a channel `inbox` listens on) arrives, and nothing on `channel` came before it.
 * Notifications are delivered in commit order, so the marker's arrival means any earlier one would have too.
 */
export async function nothingMoreOn(inbox: Inbox, channel: string, marker: string, notify: (channel: string) => Promise<unknown>): Promise<void> {
  const before = inbox.payloads(channel).length;
  const markers = inbox.payloads(marker).length;
  await notify(marker);
  await inbox.count(markers + 1, marker);
  if (inbox.payloads(channel).length !== before) throw new Error(`unexpected notifications on ${channel}: ${inbox.payloads(channel).slice(before).join(', ')}`);
}
