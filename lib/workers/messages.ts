// Owns the messages the main process and its workers exchange over the cluster IPC channel
// (JSON): one union per direction, each with a literal `t`. A restart's 'handover' and 'adopt'
// carry a client's socket handle beside the JSON.

import type { CarriedSession } from '../client/carried-session';
import type { FailureKind } from '../failover/breaker';

/** Worker -> main. */
export type ToMain =
  /** The worker's listeners are open: it serves. */
  | { t: 'ready' }
  /** A CancelRequest for a key another worker issued: deliver it to `worker`. */
  | { t: 'cancel'; worker: number; pid: number; secret: number }
  /** The admin console asks every other worker to render SHOW `arg`; answered by 'gathered'. */
  | { t: 'gather'; id: number; arg: string }
  /** The admin console ran `query` here; run it on every other worker too; answered by 'ran'. */
  | { t: 'broadcast'; id: number; query: string }
  /** GET /metrics on worker 0: every other worker's exposition; answered by 'gathered'. */
  | { t: 'scrape'; id: number; openMetrics: boolean }
  /** SHUTDOWN on the console: as SIGTERM to the main process. */
  | { t: 'shutdown' }
  /** Answer to 'render' (base64 frames) and to 'metrics' (the exposition text, one part). */
  | { t: 'rendered'; id: number; frames: string[] }
  /** Answer to 'run': the command's error message, or null when it ran. */
  | { t: 'done'; id: number; error: string | null }
  /** A commit in these read_your_writes scopes (lib/workers/commit-share): tell every other worker; answered by 'published'. */
  | { t: 'wrote'; id: number; database: string; keys: string[] }
  /** Answer to 'note': recorded. */
  | { t: 'noted'; id: number }
  /** (hearing worker) Host `host` (addressKey) should be probed by the probing worker (./probe-share). */
  | { t: 'probe-ask'; host: string; urgent: boolean }
  /** (probing worker) A probe of `host` answered; `sentAt` on the host's monotonic clock, ms. For every other worker. */
  /** `params`: the probe login's ParameterStatus set, with the first answer after each login (Backend.loginParams). */
  | { t: 'probed'; host: string; row: (string | null)[]; sentAt: number; rttMs: number; params?: [string, string][] }
  /** (probing worker) The probe connection to `host` failed. For every other worker. */
  | { t: 'probe-failed'; host: string; reason: string; kind: FailureKind }
  /** A restart: a client of this (old) worker, with its socket handle, for the new worker of the same index. */
  | { t: 'handover'; client: CarriedSession };

/** Main -> worker. */
export type ToWorker =
  | ProbeMessage
  | { t: 'cancel'; pid: number; secret: number }
  /** Render SHOW `arg` here and answer 'rendered' (frames base64). */
  | { t: 'render'; id: number; arg: string }
  /** Render this worker's /metrics exposition and answer 'rendered'. */
  | { t: 'metrics'; id: number; openMetrics: boolean }
  /** Run the admin command `query` here and answer 'done'. */
  | { t: 'run'; id: number; query: string }
  /** SIGHUP / SIGINT / SIGTERM reached the main process. */
  | { t: 'signal'; signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM' }
  /** Every other worker's answer to a 'gather' or 'scrape', by worker index. */
  | { t: 'gathered'; id: number; parts: { worker: number; frames: string[] }[] }
  /** Every other worker's answer to a 'broadcast': the errors (empty when all ran it). */
  | { t: 'ran'; id: number; errors: string[] }
  /** Another worker's commit in these scopes: record it, then answer 'noted'. */
  | { t: 'note'; id: number; database: string; keys: string[] }
  /** Every other worker has answered a 'wrote' (or did not within the bound: `late`). */
  | { t: 'published'; id: number; late: string[] }
  /** A restart: the new worker of this index serves; stop accepting and hand every client over to it. */
  | { t: 'retire' }
  /** A restart: a client the old worker of this index handed over, with its socket handle. */
  | { t: 'adopt'; client: CarriedSession };
/** Probes shared between workers (./probe-share), passed on as they came. */
export type ProbeMessage = Extract<ToMain, { t: 'probe-ask' | 'probed' | 'probe-failed' }>;

/** The environment variable that tells a forked worker its index. */
export const WORKER_INDEX_ENV = 'PGMUX_WORKER_INDEX';
/** ... and how many workers there are. */
export const WORKER_COUNT_ENV = 'PGMUX_WORKER_COUNT';
