// Spec of tools/reaper.ts: when the process that started a cluster is killed outright
// (SIGKILL: no afterAll, no exit hooks), the watchdog still stops PostgreSQL and removes the dir.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformFileSync } from '@swc/core';
import { isAlive } from '../support/procs';

const ROOT = join(__dirname, '..', '..');
/** Compiled for the victim, keeping their relative places (spec/support re-exports tools/). */
const SOURCES = ['spec/support', 'tools'];

/** Polls until check() holds; the watchdog acts asynchronously in another process. */
async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('reaper watchdog', () => {
  let build: string;
  beforeAll(() => {
    // The victim must be a separate plain-node process, so compile the support code for it.
    build = mkdtempSync(join(tmpdir(), 'pgmux-selftest-'));
    for (const src of SOURCES) {
      mkdirSync(join(build, src), { recursive: true });
      for (const file of readdirSync(join(ROOT, src)).filter((f) => f.endsWith('.ts'))) {
        const out = transformFileSync(join(ROOT, src, file), {
          jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
          module: { type: 'commonjs' },
        });
        writeFileSync(join(build, src, file.replace(/\.ts$/, '.js')), out.code);
      }
    }
    writeFileSync(
      join(build, 'victim.js'),
      `const { startCluster } = require('./spec/support/cluster');
const { processTree } = require('./spec/support/procs');
startCluster().then((c) => {
  console.log(JSON.stringify({ pids: processTree(c.primary.pid), dir: c.dir }));
  setInterval(() => undefined, 1000); // wait to be killed
});
`,
    );
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  it('stops the servers and removes the temp dir of a SIGKILLed process', async () => {
    const victim = spawn(process.execPath, [join(build, 'victim.js')], {
      env: { ...process.env, NODE_PATH: join(__dirname, '..', '..', 'node_modules') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      victim.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      victim.once('exit', (code) => reject(new Error(`victim exited early with ${code}: ${out}`)));
    });
    const { pids, dir } = JSON.parse(line) as { pids: number[]; dir: string };
    expect(pids.length).toBeGreaterThan(3);
    expect(existsSync(dir)).toBe(true);

    const exited = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await exited;

    expect(await eventually(() => pids.every((p) => !isAlive(p)), 15000)).toBe(true);
    expect(await eventually(() => !existsSync(dir), 15000)).toBe(true);
  });
});
