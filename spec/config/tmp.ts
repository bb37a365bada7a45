// Owns the temp files the config specs write: one dir per spec file under os.tmpdir(), removed
// by the spec's afterAll.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TempDir {
  readonly dir: string;
  /** Writes name -> text (sub-dirs made as needed) and returns the file's absolute path. */
  write(name: string, text: string): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgmux-config-spec-'));
  return {
    dir,
    write(name, text) {
      const file = path.join(dir, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      return file;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The ConfigError message loading would throw, or 'loaded' (so expect() shows the text). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  return 'loaded';
}
