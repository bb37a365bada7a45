// Owns the size of V8's young generation in a pgmux process (main or worker).
//
// V8 starts the young generation at 1 MiB per semi-space and doubles it, up to 16 MiB each (both
// resident once used), whenever more bytes survived its scavenges since the last growth than it
// holds. Every burst of logins does that: each new client's objects live on. V8 gives the memory
// back only in a GC that runs while the process allocates little, and an idle pooler runs none,
// so 10,000 idle clients kept ~30 MiB of young generation that held nothing: as much as their
// own objects (bench/RESULTS.md, "Idle memory, issue 17"). What the forwarding path allocates
// dies within a message, so a young generation that stays small costs it only more frequent
// scavenges of dead objects (measured there too).

import { setFlagsFromString } from 'node:v8';

/** Node flags that size the young generation: whoever starts node with one keeps their choice. */
const SIZING_FLAG = /--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;

/**
 * Keeps the young generation at the size V8 starts it with. V8 reads the growth factor each time
 * it would grow the young generation, so this holds in a process that is already running; the
 * size flags are read only at start-up. Call once, before clients arrive.
 */
export function keepYoungGenerationSmall(): void {
  if (SIZING_FLAG.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) return;
  setFlagsFromString('--semi-space-growth-factor=1');
}
