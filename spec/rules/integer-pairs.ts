// Owns the table of text pairs that differ, or seem to, in one integer literal: whether the second
// is the first with one integer's digits changed (same tokens otherwise). IntegerLiterals.follows
// (spec/rules/rule-set) and LastRequest (spec/rules/last-request) must both agree with it.

export const INTEGER_PAIRS: [string, string, boolean][] = [
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = 7', true],
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = 4200', true],
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = 42', true],
  ['SELECT a FROM t WHERE id = 42;', 'SELECT a FROM t WHERE id = 942;', true],
  ['SELECT 1, 2', 'SELECT 1, 3', true],
  ['SELECT 1, 2', 'SELECT 5, 3', false],
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = x', false],
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = 4.2', false],
  ['SELECT a FROM t WHERE id = 42', 'SELECT a FROM t WHERE id = ', false],
  ['SELECT a FROM t WHERE id = 42', "SELECT a FROM t WHERE id = '42'", false],
  ['SELECT * FROM t1 WHERE a = 1', 'SELECT * FROM t2 WHERE a = 1', false],
  ['SELECT * FROM "1"', 'SELECT * FROM "2"', false],
  ['SELECT $1 + 1', 'SELECT $2 + 1', false],
  ['SELECT 1 /* 2 */', 'SELECT 1 /* 3 */', false],
  ["SELECT '1'", "SELECT '2'", false],
  ['SELECT .5', 'SELECT .6', false],
  ['SELECT 1e5', 'SELECT 1e6', false],
  ['SELECT 5 x', 'SELECT 0 x', true],
];
