// Spec of spec/support/dials.ts and the launchers' traceConnects: a server run under strace has
// every connect() counted by port (also the ones refused because nothing listens), gets the
// signals meant for it, and runs at full speed otherwise.

import { createServer, type Server } from 'node:net';
import { startDaemon } from '../support/daemon';
import { peakInWindow, readDials } from '../support/dials';
import { removeTempDir } from '../support/osuser';
import { freePort } from '../support/ports';
import { isAlive } from '../support/procs';
import { waitFor } from '../support/wait';

/**
 * A server on argv[2] that, on SIGUSR2, connects 7 times to argv[3] (nothing listens there)
 * and 3 times to argv[4], one after another; on SIGTERM it exits with code 7.
 */
const SERVER = `
const net = require('net');
const [listen, closed, open] = process.argv.slice(-3).map(Number);
const dial = (port, n) => new Promise((done) => {
  const one = () => { const s = net.connect(port, '127.0.0.1'); const next = () => { s.destroy(); if (--n > 0) one(); else done(); }; s.once('connect', next); s.once('error', next); };
  one();
});
process.on('SIGUSR2', async () => { await dial(closed, 7); await dial(open, 3); console.log('dialled'); });
process.on('SIGTERM', () => process.exit(7));
net.createServer((s) => s.destroy()).listen(listen, '127.0.0.1');
`;

describe('startDaemon({ traceConnects: true })', () => {
  it('counts connects to a port nobody listens on and to one that accepts, each by its own port', async () => {
    const [listen, closed] = [await freePort(), await freePort()];
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const open = (server.address() as { port: number }).port;
    const d = await startDaemon({
      command: process.execPath,
      args: () => ['-e', SERVER, String(listen), String(closed), String(open)],
      configName: 'none.conf',
      configText: '',
      files: {},
      port: listen,
      label: 'dialer',
      tempPrefix: 'pgmux-dials-spec-',
      env: () => process.env,
      traceConnects: true,
    });
    try {
      // The PID is the program's, not strace's: strace is its parent.
      expect(d.pid).not.toBe(d.child.pid);
      const trace = d.connectTrace as string;
      const before = Date.now();
      d.child.signal('SIGUSR2');
      await d.child.waitForLog(/dialled/, 10000);
      // strace writes each line as the call returns; the file may trail by a moment.
      await waitFor('strace to log the last connect', () => readDials(trace, open).length === 3);
      expect(readDials(trace, closed)).toHaveLength(7);
      for (const t of [...readDials(trace, closed), ...readDials(trace, open)]) {
        expect(t).toBeGreaterThanOrEqual(before - 1);
        expect(t).toBeLessThanOrEqual(Date.now());
      }
      // SIGTERM reaches the program (strace itself ignores it), and strace exits with its status.
      const info = await d.child.stop([{ signal: 'SIGTERM', waitMs: 5000 }]);
      expect(info).toEqual({ code: 7, signal: null });
      expect(isAlive(d.pid)).toBe(false);
    } finally {
      await d.child.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
      removeTempDir(d.dir);
      server.close();
    }
  });
});

describe('peakInWindow', () => {
  it('finds the most timestamps less than the window apart', () => {
    expect(peakInWindow([], 1000)).toBe(0);
    expect(peakInWindow([0, 100, 200, 1100, 1150, 1190, 1199], 1000)).toBe(5); // 200 .. 1199
    expect(peakInWindow([0, 1000, 2000], 1000)).toBe(1);
  });
});
