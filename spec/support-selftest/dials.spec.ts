// Spec of spec/support/dials.ts: strace counts a process's connect() calls by port, including
// the ones refused because nothing listens.

import { createServer, type Server } from 'node:net';
import { Child } from '../support/child';
import { peakInWindow, traceDials } from '../support/dials';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

describe('traceDials', () => {
  it('counts connects to a port nobody listens on and to one that accepts, each by its own port', async () => {
    const closed = await freePort();
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const open = (server.address() as { port: number }).port;
    // The dialer waits for SIGUSR2 before dialling, so the trace sees every connect.
    const script = `
      const net = require('net');
      const dial = (port, n) => new Promise((done) => { let left = n; const one = () => { const s = net.connect(port, '127.0.0.1'); const next = () => { s.destroy(); if (--left > 0) one(); else done(); }; s.once('connect', next); s.once('error', next); }; one(); });
      process.on('SIGUSR2', async () => { await dial(${closed}, 7); await dial(${open}, 3); console.log('dialled'); });
      setInterval(() => undefined, 1000);
      console.log('waiting');`;
    const dialer = await Child.start(process.execPath, ['-e', script], { label: 'dialer', emergencySignal: 'SIGKILL' });
    try {
      await dialer.waitForLog(/waiting/, 10000);
      const trace = await traceDials(dialer.pid, 'dialer');
      try {
        const before = Date.now();
        dialer.signal('SIGUSR2');
        await dialer.waitForLog(/dialled/, 10000);
        // strace writes each line as the call happens; the file may trail by a moment.
        await waitFor('strace to write the last connect', () => trace.dials(open).length === 3);
        expect(trace.dials(closed)).toHaveLength(7);
        expect(trace.dials(open)).toHaveLength(3);
        for (const t of [...trace.dials(closed), ...trace.dials(open)]) {
          expect(t).toBeGreaterThanOrEqual(before - 1);
          expect(t).toBeLessThanOrEqual(Date.now());
        }
      } finally {
        await trace.stop();
      }
      // The dialer runs on after strace has detached.
      expect(dialer.hasExited()).toBe(false);
    } finally {
      await dialer.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
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
