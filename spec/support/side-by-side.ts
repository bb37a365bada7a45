// PgBouncer 1.18 and pgmux started from one ini in front of one throwaway PostgreSQL, for specs
// that send both the same bytes and compare what comes back. Trust auth from a plain userlist
// with the cluster's app user; the ini names the listen port and PostgreSQL's port.

import { startCluster, type Cluster } from './cluster';
import { startPgBouncer, type PgBouncerProcess } from './pgbouncer';
import { startPgmux, type PgmuxProcess } from './pgmux';
import { freePorts } from './ports';

export interface SideBySide {
  cluster: Cluster;
  bouncer: PgBouncerProcess;
  mux: PgmuxProcess;
  /** Stops both poolers and the cluster (what started). */
  stop(): Promise<void>;
}

/** `ini(listenPort, serverPort)`: the configuration both poolers run with. */
export async function startSideBySide(ini: (listenPort: number, serverPort: number) => string): Promise<SideBySide> {
  const cluster = await startCluster();
  const started: Partial<SideBySide> = { cluster };
  const stop = async (): Promise<void> => {
    await started.mux?.stop();
    await started.bouncer?.stop();
    await cluster.stop();
  };
  try {
    const [bouncerPort, muxPort] = await freePorts(2);
    const files = { 'userlist.txt': `"app" "${cluster.password}"\n` };
    started.bouncer = await startPgBouncer(ini(bouncerPort, cluster.primary.port), files);
    started.mux = await startPgmux(ini(muxPort, cluster.primary.port), files);
    return { cluster, bouncer: started.bouncer, mux: started.mux, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
