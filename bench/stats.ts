// Owns the little statistics the benchmark reports: median/min/max of per-round ratios and
// latency percentiles.

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median (mean of the middle two for an even count), min and max; NaN fields when empty. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** The p-th percentile (0..100) of sorted values, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * A distribution-free interval for the median of `values` (order statistics; the binomial
 * distribution of how many rounds fall below the true median): the narrowest [x(k), x(n+1-k)]
 * that holds the median with at least `confidence`. With 6 rounds at 95 % it is min–max; with
 * 12, the 3rd to the 10th. A round-to-round spread of ±15 % on a shared machine puts a median of
 * a few rounds this far from the truth, which is what a verdict on it has to be read against.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): { low: number; high: number; confidence: number } {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { low: NaN, high: NaN, confidence: 0 };
  // P(x(k) <= median <= x(n+1-k)) = 1 - 2 P(Binomial(n, 1/2) <= k - 1).
  const below = (k: number): number => {
    let p = 0;
    let c = 1;
    for (let i = 0; i <= k; i++) {
      p += c;
      c = (c * (n - i)) / (i + 1);
    }
    return p / 2 ** n;
  };
  let k = 1;
  while (k + 1 <= (n + 1) / 2 && 1 - 2 * below(k) >= confidence) k++;
  return { low: v[k - 1], high: v[n - k], confidence: 1 - 2 * below(k - 1) };
}

/**
 * Least squares y = a + b·x: the intercept a (y where x is 0) with its standard error, the
 * slope b, and R². Used to read per-round ratios at equal foreign load (x: the difference in the
 * shared machine's other load between the two sides of a round). null with fewer than 3 points
 * or no spread in x.
 */
export function fitAtZero(xs: readonly number[], ys: readonly number[]): { a: number; se: number; df: number; b: number; r2: number } | null {
  const n = xs.length;
  if (n < 3 || ys.length !== n) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  const a = my - b * mx;
  let residual = 0;
  for (let i = 0; i < n; i++) residual += (ys[i] - a - b * xs[i]) ** 2;
  const s2 = residual / (n - 2);
  return { a, se: Math.sqrt(s2 * (1 / n + (mx * mx) / sxx)), df: n - 2, b, r2: syy === 0 ? 0 : 1 - residual / syy };
}

/** Two-sided 95 % quantile of Student's t with `df` degrees of freedom (a fit of a few rounds needs it, not 1.96). */
export function t95(df: number): number {
  const table = [NaN, 12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.1, 2.09, 2.09];
  if (df < 1) return NaN;
  return df < table.length ? table[df] : df < 30 ? 2.06 : 1.96;
}
