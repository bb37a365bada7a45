// Spec of lib/routing/prepared-routes: where a text that PREPAREs, EXECUTEs or DEALLOCATEs
// SQL-level prepared statements may run, given what the client prepared under each name. Pure:
// the real classifier (parser loaded), no sockets; the black-box side is
// spec/prepared/replicas.spec.ts.

import { Classifier, loadParser } from '../../lib/routing/classify';
import { PreparedRoutes } from '../../lib/routing/prepared-routes';

let classifier: Classifier;

beforeAll(async () => {
  await loadParser();
  classifier = new Classifier();
});

const target = (routes: PreparedRoutes, sql: string): string => {
  const c = routes.resolve(classifier.classify(sql));
  return `${c.target} (${c.reason})`;
};

describe('PreparedRoutes', () => {
  it('an EXECUTE runs where what it executes may run, names looked up in the text\'s order (catches: EXECUTE always sent to the primary, or a write to a replica)', () => {
    const r = new PreparedRoutes(true);
    expect(target(r, 'PREPARE q(int) AS SELECT $1; EXECUTE q(1); DEALLOCATE q')).toBe('replica (replica: EXECUTE of a read)');
    expect(target(r, 'EXECUTE q(1)')).toBe('primary (primary: EXECUTE of a statement not prepared through pgmux)');
    expect(target(r, 'PREPARE w AS UPDATE t SET a = 1')).toMatch(/^primary/);
    expect(target(r, 'EXECUTE w')).toBe('primary (primary: UPDATE (EXECUTE w))');
    expect(target(r, 'PREPARE l AS SELECT 1 FROM t FOR UPDATE; PREPARE s AS SELECT 1')).toMatch(/^primary/);
    expect(target(r, 'EXECUTE l')).toBe('primary (primary: FOR UPDATE (EXECUTE l))');
    expect(target(r, 'EXECUTE s')).toBe('replica (replica: EXECUTE of a read)');
    expect(target(r, "EXECUTE s; SELECT nextval('x')")).toMatch(/^primary \(primary: volatile function nextval/);
    expect(target(r, 'DEALLOCATE s; EXECUTE s')).toMatch(/^primary \(primary: EXECUTE of a statement not prepared/);
    expect(target(r, 'EXECUTE l')).toMatch(/^primary/);
    expect(target(r, 'DEALLOCATE ALL')).toBe('replica (replica: DEALLOCATE)');
    expect(target(r, 'EXECUTE l')).toMatch(/^primary \(primary: EXECUTE of a statement not prepared/);
  });

  it('a statement a Parse prepared is one an EXECUTE can run, and a batch sees its own PREPAREs before they are forwarded (catches: two namespaces, or names recorded too late)', () => {
    const r = new PreparedRoutes(true);
    r.parsed('by_parse', classifier.classify('SELECT $1::int'));
    expect(target(r, 'EXECUTE by_parse(1)')).toBe('replica (replica: EXECUTE of a read)');
    const batch = r.pending();
    expect(r.resolve(classifier.classify('PREPARE b AS SELECT 2'), batch).target).toBe('replica');
    expect(r.resolve(classifier.classify('EXECUTE b'), batch).target).toBe('replica');
    // Not forwarded yet: the client's own names do not have it.
    expect(r.get('b')).toBeUndefined();
  });

  it('without re-preparing (max_prepared_statements = 0) or with a hint, the classifier\'s answer stands (catches: a statement sent where only pgmux could have prepared it)', () => {
    const off = new PreparedRoutes(false);
    expect(target(off, 'PREPARE q AS SELECT 1')).toMatch(/^replica/);
    expect(target(off, 'EXECUTE q')).toBe('primary (primary: EXECUTE)');
    const on = new PreparedRoutes(true);
    on.parsed('q', classifier.classify('SELECT 1'));
    expect(target(on, '/* pgmux:primary */ EXECUTE q')).toBe('primary (primary: hint)');
  });
});
