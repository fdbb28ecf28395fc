// A chart curve with the step of every point, and the append-with-decimation live updates use.
import { decimateIndices } from './smoothing.ts';

/** A curve: y against x, with the step of every point (to merge fetched and live points). */
export interface Curve {
  steps: number[];
  x: number[];
  y: (number | null)[];
}

export const EMPTY_CURVE: Curve = { steps: [], x: [], y: [] };

/** Live curves longer than this are decimated to LIVE_TARGET points (min/max per bucket). */
export const LIVE_MAX = 4000;
export const LIVE_TARGET = 2000;
/** `curve` extended by points of later steps, decimated when it grows past LIVE_MAX. */
export function appendPoints(curve: Curve, add: Curve, max = LIVE_MAX, target = LIVE_TARGET): Curve {
  const last = curve.steps.at(-1) ?? -Infinity;
  let from = 0;
  while (from < add.steps.length && (add.steps[from] as number) <= last) from++;
  if (from >= add.steps.length) return curve;
  const next: Curve = {
    steps: curve.steps.concat(add.steps.slice(from)),
    x: curve.x.concat(add.x.slice(from)),
    y: curve.y.concat(add.y.slice(from)),
  };
  if (next.steps.length <= max) return next;
  const keep = decimateIndices(next.y, target);
  return {
    steps: keep.map((i) => next.steps[i] as number),
    x: keep.map((i) => next.x[i] as number),
    y: keep.map((i) => next.y[i] as number | null),
  };
}

/**
 * Down-samples a curve the way `run/metrics` does: steps in aligned buckets [k·width, (k+1)·width), each bucket's
 * minimum and maximum in step order (one point when they are the same step). Gaps (null) are dropped, as the
 * store's query skips them. With the width of a fetched series, freshly read raw rows become points of the same
 * kind as the series, so both can be drawn (and smoothed) as one curve.
 */
export function bucketExtremes(curve: Curve, width: number): Curve {
  if (width <= 1) return curve;
  const out: Curve = { steps: [], x: [], y: [] };
  let i = 0;
  const n = curve.steps.length;
  while (i < n) {
    const bucket = Math.floor((curve.steps[i] as number) / width);
    let lo = -1;
    let hi = -1;
    for (; i < n && Math.floor((curve.steps[i] as number) / width) === bucket; i++) {
      const y = curve.y[i];
      if (y === null || y === undefined || !Number.isFinite(y)) continue;
      if (lo < 0 || y < (curve.y[lo] as number)) lo = i;
      if (hi < 0 || y > (curve.y[hi] as number)) hi = i;
    }
    if (lo < 0) continue;
    for (const j of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) {
      out.steps.push(curve.steps[j] as number);
      out.x.push(curve.x[j] as number);
      out.y.push(curve.y[j] as number);
    }
  }
  return out;
}

/** The step where a fetched series' last bucket starts: the tail read from there replaces that (maybe partial) bucket. */
export function tailStart(curve: Curve, width: number): number {
  const last = curve.steps.at(-1);
  if (last === undefined) return 0;
  return Math.floor(last / Math.max(1, width)) * Math.max(1, width);
}

/**
 * A fetched series continued by the raw rows stored since (`tail`, from step `from`), bucketed at the series' width,
 * then by live points newer than both. Every point up to the tail's end is then a bucket extreme of one width, so
 * the raw line keeps its density and the smoothed line weights every stretch alike.
 */
export function mergeTail(history: Curve, tail: Curve, from: number, width: number, live: Curve): Curve {
  const keep = history.steps.findIndex((s) => s >= from);
  const head: Curve =
    keep < 0
      ? history
      : { steps: history.steps.slice(0, keep), x: history.x.slice(0, keep), y: history.y.slice(0, keep) };
  const bucketed = bucketExtremes(tail, width);
  const joined: Curve = {
    steps: head.steps.concat(bucketed.steps),
    x: head.x.concat(bucketed.x),
    y: head.y.concat(bucketed.y),
  };
  return appendPoints(joined, live, Infinity);
}
