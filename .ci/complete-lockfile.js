#!/usr/bin/env node
// Run after `npm install` changes package-lock.json: `node .ci/complete-lockfile.js package-lock.json`.
// The npm registry reachable here carries only the linux-x64 builds of packages with per-platform
// binaries (@swc/core-*, @unrs/resolver-binding-*), so npm leaves the others out of the lock and
// `npm ci` then refuses it as out of sync.
// Adds lock entries for optional platform binaries the registry mirror does not carry, so that
// `npm ci` sees a complete lock; npm skips them on this platform (os/cpu mismatch) and never fetches.
const fs = require('fs');
const file = process.argv[2];
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const pk = lock.packages;
const osOf = (n) => ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openharmony'].find((o) => n.includes(`-${o}-`)) ;
const cpuOf = (n) => ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64'].find((c) => n.includes(`-${c}`));
let added = 0;
for (const [path, meta] of Object.entries(pk)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pk[key] || pk[`${path}/node_modules/${dep}`]) continue;
    const os = osOf(dep), cpu = cpuOf(dep);
    if (!os || !cpu) { console.error('cannot infer platform of', dep); process.exitCode = 1; continue; }
    pk[key] = { version: range.replace(/^[\^~=]/, ''), cpu: [cpu], dev: meta.dev === true ? true : undefined, optional: true, os: [os] };
    added++;
  }
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} entries`);
