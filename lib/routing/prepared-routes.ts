// Owns routing's view of one client's prepared statements: the classification of what each name
// holds (from its Parse or its SQL PREPARE; one namespace, as in PostgreSQL), and where a text
// that EXECUTEs some of them may run.
//
// The classifier cannot say where `EXECUTE q(1)` may run: that depends on what this client
// prepared as q. So its classification counts every EXECUTE as a write and lists the text's
// PREPARE / EXECUTE / DEALLOCATE (Classification.prepared); resolve() looks the names up, in
// the text's order, and answers a replica only when each EXECUTE runs a read and everything else
// in the text is a read. A name nobody prepared through pgmux, a write, FOR UPDATE, a volatile
// call in the arguments: the primary. Only when pgmux prepares statements again on whichever
// server runs them (max_prepared_statements > 0): otherwise a statement exists only where it was
// prepared, the primary, and the classifier's answer stands.

import type { Classification } from './classify';

/** Names added or dropped by messages not yet forwarded (the batch being placed). */
export class PendingNames {
  private readonly changed = new Map<string, Classification | null>();
  private cleared = false;

  constructor(private readonly base: ReadonlyMap<string, Classification>) {}

  get(name: string): Classification | undefined {
    const c = this.changed.get(name);
    if (c !== undefined) return c ?? undefined;
    return this.cleared ? undefined : this.base.get(name);
  }

  set(name: string, c: Classification): void {
    this.changed.set(name, c);
  }

  delete(name: string | null): void {
    if (name !== null) {
      this.changed.set(name, null);
      return;
    }
    this.changed.clear();
    this.cleared = true;
  }
}

/** Reads and writes of names, on the client's map or on a batch's pending view of it. */
interface Names {
  get(name: string): Classification | undefined;
  set(name: string, c: Classification): void;
  delete(name: string | null): void;
}

export class PreparedRoutes {
  private readonly names = new Map<string, Classification>();
  /** The client's map, with DEALLOCATE ALL as clear(). */
  private readonly own: Names = {
    get: (name) => this.names.get(name),
    set: (name, c) => void this.names.set(name, c),
    delete: (name) => (name === null ? this.names.clear() : void this.names.delete(name)),
  };

  constructor(
    /** pgmux prepares statements again wherever they run (max_prepared_statements > 0). */
    private readonly tracked: boolean,
  ) {}

  get(name: string): Classification | undefined {
    return this.names.get(name);
  }

  /** A view for a batch not yet forwarded: what it prepares counts for what follows in it. */
  pending(): PendingNames {
    return new PendingNames(this.names);
  }

  /** A Parse of `name` was forwarded. */
  parsed(name: string, c: Classification): void {
    this.names.set(name, c);
  }

  /**
   * Where a forwarded (`names` omitted) or pending text may run, and what it prepares and
   * deallocates recorded in the client's map or in `names`.
   */
  resolve(c: Classification, names: PendingNames | null = null): Classification {
    const p = c.prepared;
    if (p === undefined) return c;
    const view: Names = names ?? this.own;
    let primary: string | null = p.rest !== null && p.rest.target === 'primary' ? p.rest.reason : null;
    let executes = false;
    for (const use of p.uses) {
      switch (use.kind) {
        case 'prepare':
          if (use.name === null || use.classification === null) break;
          view.set(use.name, use.classification);
          // Preparing a write is harmless anywhere, but the primary is the safe answer.
          if (use.classification.target === 'primary') primary ??= use.classification.reason;
          break;
        case 'deallocate':
          // pgmux answers it with a no-op that runs anywhere (lib/prepared/sql-planner).
          view.delete(use.name);
          break;
        case 'execute': {
          executes = true;
          if (primary !== null) break;
          const body = use.name === null ? undefined : view.get(use.name);
          if (body === undefined) primary = 'primary: EXECUTE of a statement not prepared through pgmux';
          else if (body.target === 'primary') primary = `${body.reason} (EXECUTE ${use.name as string})`;
          else if (use.classification !== null && use.classification.target === 'primary') primary = use.classification.reason;
        }
      }
    }
    // Without re-preparing, or with a hint, the classifier's answer stands.
    if (!this.tracked || c.hint !== undefined) return c;
    if (primary === null) return c.target === 'replica' ? c : { ...c, target: 'replica', reason: executes ? 'replica: EXECUTE of a read' : 'replica: DEALLOCATE' };
    return c.target === 'primary' && c.reason === primary ? c : { ...c, target: 'primary', reason: primary };
  }
}
