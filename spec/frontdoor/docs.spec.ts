// Specs of the repository's own documentation: every link in the markdown a user reads resolves
// inside the repository, ARCHITECTURE.md names what exists (every lib/ folder, every path it
// mentions, every pgmux-only setting), and every example config loads.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadConfig, SETTINGS } from '../../lib/config';
import { repoRoot } from '../support/pgmux';

const ROOT = repoRoot();
/** The markdown a user of the repository or of the npm package reads. */
const DOCS = ['README.md', 'ARCHITECTURE.md', 'examples/README.md'];

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1].trim())));
}

/** [text](target) links outside code blocks and inline code. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

describe.each(DOCS)('%s', (doc) => {
  const text = read(doc);

  it('has links, each resolving to a file or folder inside the repository', () => {
    const found = links(text);
    expect(found.length).toBeGreaterThan(0);
    const broken: string[] = [];
    for (const link of found) {
      if (/^[a-z]+:/i.test(link)) {
        broken.push(`${link}: points outside the repository`);
        continue;
      }
      const [path, anchor] = link.split('#');
      const target = path === '' ? join(ROOT, doc) : resolve(ROOT, dirname(doc), path);
      const inside = relative(ROOT, target);
      if (inside.startsWith('..')) broken.push(`${link}: leaves the repository`);
      else if (!existsSync(target)) broken.push(`${link}: no such file`);
      else if (anchor !== undefined && !(statSync(target).isFile() && anchors(readFileSync(target, 'utf8')).has(anchor))) {
        broken.push(`${link}: no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('ARCHITECTURE.md', () => {
  const text = read('ARCHITECTURE.md');

  it('names every folder of lib/', () => {
    const folders = readdirSync(join(ROOT, 'lib')).filter((f) => statSync(join(ROOT, 'lib', f)).isDirectory());
    expect(folders.length).toBeGreaterThan(5);
    expect(folders.filter((f) => !text.includes(`lib/${f}`))).toEqual([]);
  });

  it('names only paths that exist', () => {
    const paths = [...text.matchAll(/`((?:lib|tools|spec|demo|bench|bin|examples)\/[\w./-]*)`/g)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(20);
    expect([...new Set(paths)].filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('says where every pgmux-only setting is acted on, and names only real settings there', () => {
    const pgmuxOnly = SETTINGS.filter((r) => /^pgmux only/.test(r.help)).map((r) => r.name);
    expect(pgmuxOnly.length).toBeGreaterThan(5);
    const section = text.slice(text.indexOf('## Where each setting lives'));
    const rows = [...section.matchAll(/^\| (.+?) \| /gm)].map((m) => m[1]).filter((c) => c !== 'setting' && !c.startsWith('---'));
    const named = rows.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((m) => m[1]));
    expect(pgmuxOnly.filter((name) => !named.includes(name))).toEqual([]);
    const known = new Set(SETTINGS.map((r) => r.name));
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });
});

describe('examples/', () => {
  const inis = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ini'));

  it.each(inis)('%s loads as a config', (file) => {
    expect(() => loadConfig(join(ROOT, 'examples', file))).not.toThrow();
  });

  it('lists every file it holds in its README', () => {
    const readme = read('examples/README.md');
    const files = readdirSync(join(ROOT, 'examples'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(join(ROOT, 'examples'), join(e.path, e.name)))
      .filter((f) => f !== 'README.md');
    expect(files.filter((f) => !readme.includes(`](${f})`))).toEqual([]);
  });
});
