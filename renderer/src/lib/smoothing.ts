// Curve smoothing for the loss and accuracy charts. An exponential moving average with the bias correction
// TensorBoard uses, so the first points are not dragged towards zero; gaps (null, NaN) stay gaps.

/**
 * Debiased EMA of `ys`. `weight` is in [0, 1): 0 returns the input, 0.99 is very smooth. A null or non-finite value
 * yields null and does not disturb the average. Returns a new array of the same length.
 *
 * With `xs`, the average runs in x rather than in points: the weight says how smooth the curve is as if it had
 * SMOOTHING_POINTS evenly spaced points, whatever its real density. That matters for down-sampled series, which
 * alternate between each bucket's minimum and maximum: a per-point average would keep that zigzag.
 */
export function smoothEma(
  ys: readonly (number | null)[],
  weight: number,
  xs?: readonly number[],
  /** The x range the weight refers to (default: this curve's); curves drawn together should share one. */
  span?: number,
): (number | null)[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) return ys.map((y) => (y === null || y === undefined || !Number.isFinite(y) ? null : y));
  const out: (number | null)[] = new Array(ys.length);
  const valid = (y: number | null | undefined): y is number =>
    y !== null && y !== undefined && Number.isFinite(y);
  if (xs && xs.length === ys.length && xs.length > 1) {
    const range = span ?? (xs[xs.length - 1] as number) - (xs[0] as number);
    const tau = (range > 0 ? range / SMOOTHING_POINTS : 1) / -Math.log(w);
    let last: number | undefined;
    let prevX = 0;
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (!valid(y)) {
        out[i] = null;
        continue;
      }
      const x = xs[i] as number;
      if (last === undefined) last = y;
      else {
        const keep = Math.exp(-Math.max(0, x - prevX) / tau);
        last = keep * last + (1 - keep) * y;
      }
      prevX = x;
      out[i] = last;
    }
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!valid(y)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * y;
    n += 1;
    out[i] = last / (1 - w ** n);
  }
  return out;
}

/** The x-aware average treats a curve as this many evenly spaced points. */
export const SMOOTHING_POINTS = 500;

/**
 * Indices to keep so that at most `maxPoints` remain: each bucket's minimum and maximum (in index order), so spikes
 * survive. Used when a live series outgrows what a chart should redraw every frame. Gaps are kept as one index.
 */
export function decimateIndices(ys: readonly (number | null)[], maxPoints: number): number[] {
  const n = ys.length;
  if (n <= maxPoints || maxPoints < 4) return Array.from({ length: n }, (_, i) => i);
  const buckets = Math.floor(maxPoints / 2);
  const per = n / buckets;
  const keep: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor(b * per);
    const hi = Math.min(n, Math.floor((b + 1) * per));
    let iMin = -1;
    let iMax = -1;
    for (let i = lo; i < hi; i++) {
      const y = ys[i];
      if (y === null || y === undefined || !Number.isFinite(y)) continue;
      if (iMin < 0 || y < (ys[iMin] as number)) iMin = i;
      if (iMax < 0 || y > (ys[iMax] as number)) iMax = i;
    }
    if (iMin < 0) {
      keep.push(lo);
      continue;
    }
    keep.push(Math.min(iMin, iMax));
    if (iMin !== iMax) keep.push(Math.max(iMin, iMax));
  }
  return keep;
}
