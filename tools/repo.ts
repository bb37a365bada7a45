// Owns finding the checkout: the directory of pgmux's package.json, from source or from dist/.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout: the nearest dir above this file whose package.json is pgmux's (works from dist/ too). */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pgmux') return dir;
    if (dirname(dir) === dir) throw new Error(`no pgmux package.json above ${__dirname}`);
  }
}
