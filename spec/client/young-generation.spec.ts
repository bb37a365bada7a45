// Spec of lib/young-generation (issue 17, memory per idle client): in a real node process, a
// burst of long-lived objects (as a burst of logins leaves) no longer grows V8's young generation
// to 32 MiB that an idle pooler never gives back; a young-generation flag given to node wins.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The built module (specs that start processes run dist/, as bin/pgmux does). */
const MODULE = join(__dirname, '..', '..', 'dist', 'lib', 'young-generation.js');

/** The young generation's size (MiB) in a fresh node after 10,000 clients' worth of objects that stay. */
function youngGenerationAfterBurst(callModule: boolean, nodeArgs: string[] = []): number {
  const script = `
    ${callModule ? `require(${JSON.stringify(MODULE)}).keepYoungGenerationSmall();` : ''}
    const kept = [];
    for (let i = 0; i < 10000; i++) {
      const client = [];
      for (let j = 0; j < 20; j++) client.push({ id: i, n: j, name: 'c' + j, list: [i] });
      kept.push(client);
    }
    const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size / 2 ** 20));
    if (kept.length !== 10000) process.exit(1);
  `;
  return Number(execFileSync(process.execPath, [...nodeArgs, '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
}

describe('keepYoungGenerationSmall', () => {
  it('keeps the young generation at its starting size through a burst of long-lived objects (catches: ~30 MiB of empty young generation kept by every idle pgmux)', () => {
    // Without it, V8 grows the young generation to its maximum (16 MiB semi-spaces) here.
    expect(youngGenerationAfterBurst(false)).toBeGreaterThanOrEqual(16);
    expect(youngGenerationAfterBurst(true)).toBeLessThanOrEqual(2);
  });

  it("leaves the young generation alone when node was started with a size for it (catches: overriding the operator's own choice)", () => {
    expect(youngGenerationAfterBurst(true, ['--max-semi-space-size=8'])).toBeGreaterThanOrEqual(8);
  });
});
