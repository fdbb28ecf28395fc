// Mean and spread across seeds, pure. Runs that differ only in their seed form a group; each member's curve is
// interpolated onto a common grid over the x range every member covers, then averaged point by point.
import type { Curve } from './curve.ts';

/** Config keys that do not make two runs different experiments. */
const IGNORED = /(^|\.)(seed|name|tags|notes|preset)$/;

/** Groups run ids (in first-seen order) whose config values are equal on every diff key except seed and names. */
export function seedGroups(
  ids: readonly number[],
  diff: readonly { key: string; values: readonly unknown[] }[],
): number[][] {
  const keys = diff.filter((d) => !IGNORED.test(d.key));
  const groups = new Map<string, number[]>();
  ids.forEach((id, i) => {
    const sig = JSON.stringify(keys.map((d) => d.values[i] ?? null));
    const g = groups.get(sig) ?? [];
    g.push(id);
    groups.set(sig, g);
  });
  return [...groups.values()];
}

/** Linear interpolation of a curve (x ascending) at `x`; null outside its range or next to a gap. */
export function interpolate(curve: Curve, x: number): number | null {
  const xs = curve.x;
  const n = xs.length;
  if (n === 0 || x < (xs[0] as number) || x > (xs[n - 1] as number)) return null;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xs[lo] as number;
  const x1 = xs[hi] as number;
  const y0 = curve.y[lo];
  const y1 = curve.y[hi];
  if (y0 === null || y0 === undefined) return x === x0 ? null : (y1 ?? null);
  if (x === x0 || x1 === x0) return y0;
  if (y1 === null || y1 === undefined) return y0;
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

export interface Band {
  x: number[];
  mean: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
}

/**
 * Mean ± one standard deviation (population) of several curves on `points` evenly spaced x values over the range
 * all of them cover. Empty when the curves share no range.
 */
export function meanBand(curves: readonly Curve[], points = 200): Band {
  const covered = curves.filter((c) => c.x.length > 0);
  if (covered.length === 0) return { x: [], mean: [], lo: [], hi: [] };
  const from = Math.max(...covered.map((c) => c.x[0] as number));
  const to = Math.min(...covered.map((c) => c.x[c.x.length - 1] as number));
  if (!(to >= from)) return { x: [], mean: [], lo: [], hi: [] };
  const n = to === from ? 1 : Math.max(2, points);
  const band: Band = { x: [], mean: [], lo: [], hi: [] };
  for (let i = 0; i < n; i++) {
    const x = n === 1 ? from : from + ((to - from) * i) / (n - 1);
    const ys = covered.map((c) => interpolate(c, x)).filter((y): y is number => y !== null);
    band.x.push(x);
    if (ys.length === 0) {
      band.mean.push(null);
      band.lo.push(null);
      band.hi.push(null);
      continue;
    }
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sd = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length);
    band.mean.push(mean);
    band.lo.push(mean - sd);
    band.hi.push(mean + sd);
  }
  return band;
}
