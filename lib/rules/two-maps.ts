// Owns a small bounded cache for the per-statement lookups of the rules (statement facts by text
// and by shape): two Maps, the current one and the one before it. A hit in the older map moves
// the entry to the current one; when the current one is full, it becomes the older one and the
// oldest is dropped whole. A lookup is one or two Map.get calls (lru-cache's bookkeeping costs
// several times that, and these lookups run for every statement); memory stays within twice the
// bound, in entries and in characters of keys.

export class TwoMaps<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private chars = 0;

  constructor(
    /** Entries per map. */
    private readonly maxEntries: number,
    /** Characters of keys per map. */
    private readonly maxChars: number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.current.get(key);
    if (hit !== undefined) return hit;
    const old = this.previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    if (this.current.size >= this.maxEntries || this.chars + key.length > this.maxChars) {
      this.previous = this.current;
      this.current = new Map();
      this.chars = 0;
    }
    if (!this.current.has(key)) this.chars += key.length;
    this.current.set(key, value);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
    this.chars = 0;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
