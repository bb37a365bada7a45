// Specs for the user-function volatility lookup's table (lib/routing/volatility.ts): how rows of
// pg_proc become the classifier's isVolatile answers. The fetch itself is proved end to end in
// router.spec.ts.

import { volatilityMap } from '../../lib/routing/volatility';

describe('volatilityMap', () => {
  /** Last-row-wins would make the answer depend on pg_proc's row order, and route a volatile overload to a replica. */
  it('counts a name as volatile when any overload is, whatever the row order', () => {
    const stableFirst = volatilityMap([['public', 'f', 's'], ['public', 'f', 'v']]);
    const volatileFirst = volatilityMap([['public', 'f', 'v'], ['public', 'f', 's']]);
    for (const m of [stableFirst, volatileFirst]) {
      expect(m.get('f')).toBe(true);
      expect(m.get('public.f')).toBe(true);
    }
  });

  /** Keying only by bare name would let a volatile function in one schema taint a stable one in another when qualified. */
  it('keys by bare name (any schema) and by schema.name', () => {
    const m = volatilityMap([['a', 'g', 'i'], ['b', 'g', 'v'], ['a', 'h', 's']]);
    expect(m.get('g')).toBe(true);
    expect(m.get('a.g')).toBe(false);
    expect(m.get('b.g')).toBe(true);
    expect(m.get('h')).toBe(false);
    expect(m.get('a.h')).toBe(false);
    expect(m.get('nope')).toBeUndefined();
  });
});
