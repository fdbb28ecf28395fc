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
