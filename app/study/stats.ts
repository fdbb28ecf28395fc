// Small statistics and formatting helpers for the study's tables: mean and sample standard deviation across
// seeds, geometric means of ratios, and fixed-width number formats.

export interface Spread {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  std: number;
  n: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const xs = values.filter(Number.isFinite);
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0, min: Number.NaN, max: Number.NaN };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const ss = xs.reduce((s, x) => s + (x - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n, min: Math.min(...xs), max: Math.max(...xs) };
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/** exp(mean(log x)): the average of ratios measured at snapshots of very different scale. */
export function geomean(values: readonly number[]): number {
  const xs = values.filter((x) => x > 0 && Number.isFinite(x));
  if (xs.length === 0) return Number.NaN;
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toFixed(digits);
}

export function fmtSpread(s: Spread, digits = 3, scale = 1): string {
  if (s.n === 0) return 'n/a';
  if (s.n === 1) return fmt(s.mean * scale, digits);
  return `${fmt(s.mean * scale, digits)} ± ${fmt(s.std * scale, digits)}`;
}

export function fmtSci(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : 'n/a';
}

export function fmtSciSpread(s: Spread): string {
  if (s.n === 0) return 'n/a';
  return s.n === 1 ? fmtSci(s.mean) : `${fmtSci(s.mean)} ± ${fmtSci(s.std)}`;
}

/** Three significant digits: 123456 → "123k", 12800 → "12.8k", 1234567 → "1.23M", 640 → "640". */
export function fmtCount(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  const sig = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (a >= 1e6) return `${sig(x / 1e6)}M`;
  if (a >= 1e3) return `${sig(x / 1e3)}k`;
  return x.toFixed(0);
}
