// Owns the shape of opening a connection to a PostgreSQL server as every layer that talks to one
// asks for it (pools, health probes, auth_query, forwarded cancels). lib/failover/dialer.ts is
// the one implementation; layers below failover (auth, routing) receive it as a value.

import type * as net from 'node:net';

/** What a connection attempt reports; exactly one of the two, at most once. */
export interface ConnectEvents {
  /**
   * Connected, after TLS when server_tls_sslmode negotiated it: write the startup packet (or a
   * CancelRequest) on `socket`. Attach 'error' and 'close' listeners here: the dialer's own go
   * once this returns.
   */
  connected(socket: net.Socket, tlsInfo: string): void;
  /**
   * No connection: refused, unreachable or timed out (`tls` false), or the server refused TLS
   * that server_tls_sslmode requires, or the handshake failed (`tls` true: pgmux's own refusal).
   */
  connectFailed(reason: string, tls: boolean): void;
}

/** net's `onread` option: reads land in the caller's buffer instead of a new one per read. */
export interface ReadInto {
  buffer(): Buffer;
  callback(length: number, buf: Buffer): boolean;
}

/** One attempt under way. */
export interface PendingConnect {
  /** The TCP (or Unix) socket, before and during TLS negotiation (addresses for SHOW SERVERS). */
  readonly socket: net.Socket;
  /** Abandons the attempt: its socket is destroyed and no event follows. */
  abort(): void;
}

/** Opens a connection to one server. */
export type Connect = (events: ConnectEvents, readInto?: ReadInto) => PendingConnect;
