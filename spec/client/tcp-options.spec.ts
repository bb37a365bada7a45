// Black-box spec of the TCP options on pgmux's side of a client connection: TCP_NODELAY always,
// SO_KEEPALIVE and TCP_KEEPIDLE as tcp_keepalive and tcp_keepidle say, also for connections
// accepted after a RELOAD changed them, and in a worker (node:cluster hands the connection over).
// pgmux sets them once on the listening socket where the kernel copies them to each accepted
// one (lib/client/client-socket acceptClients), so they are read here from the accepted socket
// itself: a duplicate of pgmux's descriptor (pidfd_getfd) asked with getsockopt.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { RawClient } from '../support/wire';
import { pollUntil, startMux } from './support/setup';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

interface TcpOptions {
  nodelay: number;
  keepalive: number;
  keepidle: number;
}

/** getsockopt on a duplicate of `fd` of process `pid` (Linux >= 5.6, same user or root). */
const GETSOCKOPT = `
import ctypes, os, socket, sys, json
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(int(sys.argv[1]))
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
if fd < 0: raise OSError(ctypes.get_errno(), 'pidfd_getfd')
s = socket.socket(fileno=fd)
print(json.dumps({
  'nodelay': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
  'keepalive': s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
  'keepidle': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
}))
s.detach(); os.close(fd)
`;

/** The inode of the TCP socket 127.0.0.1:`local` <-> 127.0.0.1:`remote` (/proc/net/tcp, hex ports). */
function socketInode(local: number, remote: number): string | null {
  const hex = (port: number): string => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === hex(local) && f[2] === hex(remote)) return f[9];
  }
  return null;
}

/** pgmux's process and its workers. */
function processTree(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return [pid, ...(children === '' ? [] : children.split(' ').map(Number))];
}

/** The options of pgmux's socket of the client connected from `clientPort`. */
function acceptedOptions(mux: PgmuxProcess, clientPort: number): TcpOptions {
  const inode = socketInode(mux.port, clientPort);
  if (inode === null) throw new Error(`no socket 127.0.0.1:${mux.port} <- ${clientPort} in /proc/net/tcp`);
  for (const pid of processTree(mux.pid)) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link !== `socket:[${inode}]`) continue;
      const r = spawnSync('/usr/bin/python3', ['-c', GETSOCKOPT, String(pid), fd], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`getsockopt failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as TcpOptions;
    }
  }
  throw new Error(`no process of pgmux ${mux.pid} holds socket ${inode}`);
}

/** Logs in (md5) and returns pgmux's side's options; the client is closed after. */
async function optionsOfNewClient(mux: PgmuxProcess): Promise<TcpOptions> {
  const c = await RawClient.login(mux.port, 'app_md5', cluster.password);
  try {
    return acceptedOptions(mux, c.socket.localPort as number);
  } finally {
    await c.close();
  }
}

describe("pgmux's side of a client connection", () => {
  it('has TCP_NODELAY, SO_KEEPALIVE and tcp_keepidle, and after a RELOAD new connections get the new tcp_keepidle (catches: options set once on the listener lost for connections after RELOAD)', async () => {
    const mux = await startMux(cluster, { settings: { tcp_keepalive: 1, tcp_keepidle: 77 } });
    try {
      expect(await optionsOfNewClient(mux)).toEqual({ nodelay: 1, keepalive: 1, keepidle: 77 });
      const ini = join(mux.dir, 'pgmux.ini');
      writeFileSync(ini, readFileSync(ini, 'utf8').replace('tcp_keepidle = 77', 'tcp_keepidle = 88'));
      process.kill(mux.pid, 'SIGHUP');
      await mux.waitForLog(/config reloaded/);
      expect(await optionsOfNewClient(mux)).toEqual({ nodelay: 1, keepalive: 1, keepidle: 88 });
      writeFileSync(ini, readFileSync(ini, 'utf8').replace('tcp_keepalive = 1', 'tcp_keepalive = 0'));
      process.kill(mux.pid, 'SIGHUP');
      await pollUntil(() => (mux.logs().match(/config reloaded/g) ?? []).length >= 2, 'the second reload');
      expect(await optionsOfNewClient(mux)).toMatchObject({ nodelay: 1, keepalive: 0 });
    } finally {
      await mux.stop();
    }
  });

  it('has TCP_NODELAY and no SO_KEEPALIVE with tcp_keepalive = 0', async () => {
    const mux = await startMux(cluster, { settings: { tcp_keepalive: 0 } });
    try {
      expect(await optionsOfNewClient(mux)).toMatchObject({ nodelay: 1, keepalive: 0 });
    } finally {
      await mux.stop();
    }
  });

  it('has the same options in a worker, which node:cluster hands the connection to (catches: a round-robin worker\'s stand-in listening handle has no socket to set them on)', async () => {
    const mux = await startMux(cluster, { settings: { workers: 2, tcp_keepalive: 1, tcp_keepidle: 66 } });
    try {
      expect(await optionsOfNewClient(mux)).toEqual({ nodelay: 1, keepalive: 1, keepidle: 66 });
    } finally {
      await mux.stop();
    }
  });
});
