// Min/max-per-bucket down-sampling, pure. A chart of a million steps has ~2,000 pixels; per pixel-wide bucket we
// keep the lowest and the highest value, at the steps where they occur, so spikes and the envelope survive exactly
// (unlike averaging or striding). The same semantics run in SQL over the rollup pyramid (charts.ts); these functions
// define them and are tested against a brute-force reference.

/** Extremes of one bucket: bucket b covers steps [b·width, (b+1)·width − 1]. */
export interface BucketExtremes {
  bucket: number;
  lo: number;
  loStep: number;
  hi: number;
  hiStep: number;
}

/**
 * Per bucket of `width` steps, the min and max of `values` with their steps. Input may be in any order; null and
 * NaN values are skipped (a bucket with none is omitted); ties go to the earliest step. Sorted by bucket.
 */
export function bucketExtremes(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  width: number,
): BucketExtremes[] {
  if (!(Number.isInteger(width) && width >= 1))
    throw new RangeError(`bucket width must be a positive integer`);
  if (steps.length !== values.length) throw new RangeError('steps and values differ in length');
  const byBucket = new Map<number, BucketExtremes>();
  for (let i = 0; i < steps.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const s = steps[i] as number;
    const b = Math.floor(s / width);
    const e = byBucket.get(b);
    if (!e) {
      byBucket.set(b, { bucket: b, lo: v, loStep: s, hi: v, hiStep: s });
      continue;
    }
    if (v < e.lo || (v === e.lo && s < e.loStep)) {
      e.lo = v;
      e.loStep = s;
    }
    if (v > e.hi || (v === e.hi && s < e.hiStep)) {
      e.hi = v;
      e.hiStep = s;
    }
  }
  return [...byBucket.values()].sort((a, b) => a.bucket - b.bucket);
}

/** The chart points of some extremes: per bucket its min and max in step order, one point when they coincide. */
export function extremesToPoints(extremes: readonly BucketExtremes[]): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  for (const e of extremes) {
    if (e.loStep === e.hiStep) {
      steps.push(e.loStep);
      values.push(e.lo);
    } else if (e.loStep < e.hiStep) {
      steps.push(e.loStep, e.hiStep);
      values.push(e.lo, e.hi);
    } else {
      steps.push(e.hiStep, e.loStep);
      values.push(e.hi, e.lo);
    }
  }
  return { steps, values };
}

/** Down-samples (steps, values) to at most two points per bucket of `width` steps. */
export function minMaxDownsample(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  width: number,
): { steps: number[]; values: number[] } {
  return extremesToPoints(bucketExtremes(steps, values, width));
}

/** The rollup pyramid: level L summarises aligned buckets of FANOUT^L steps, L = 1..MAX_LEVEL (0 = raw rows). */
export const FANOUT = 8;
export const MAX_LEVEL = 6;

export interface BucketPlan {
  /** The pyramid level to read: 0 = raw metrics, else metric_rollups.level. */
  level: number;
  /** Output bucket width in steps: a multiple (`factor`) of the level's FANOUT^level, so buckets align. */
  width: number;
  factor: number;
}

/**
 * How to down-sample steps lo..hi to at most `maxPoints` points: raw when they fit, else buckets of two points
 * each, read from the coarsest level that is still no coarser than one output bucket (so at most FANOUT × buckets
 * summary rows are read).
 */
export function planBuckets(lo: number, hi: number, maxPoints: number): BucketPlan {
  if (!(Number.isInteger(maxPoints) && maxPoints >= 2))
    throw new RangeError('maxPoints must be an integer >= 2');
  const span = hi - lo + 1;
  if (span <= maxPoints) return { level: 0, width: 1, factor: 1 };
  const maxBuckets = Math.floor(maxPoints / 2);
  const target = span / maxBuckets;
  let level = 0;
  while (level < MAX_LEVEL && FANOUT ** (level + 1) <= target) level++;
  const base = FANOUT ** level;
  let factor = Math.max(1, Math.ceil(target / base));
  // Aligned buckets can straddle one extra boundary; widen until the count fits.
  while (Math.floor(hi / (factor * base)) - Math.floor(lo / (factor * base)) + 1 > maxBuckets) factor++;
  return { level, width: factor * base, factor };
}
