// Chart axes: labels and tick formats per x axis, and the union-join that puts several curves on one x array (uPlot
// wants one shared, ascending x; a curve without a point at some x gets null there).
import { formatCount, formatDuration } from './format.ts';
import type { XAxisName } from './types.ts';

export function axisLabel(axis: XAxisName): string {
  switch (axis) {
    case 'step':
      return 'step';
    case 'queries':
      return 'cumulative queries';
    case 'forwardRows':
      return 'forward rows';
    case 'wall':
      return 'wall time';
  }
}

export function axisFormat(axis: XAxisName): (v: number) => string {
  return axis === 'wall' ? (v) => formatDuration(v) : (v) => formatCount(v);
}

export interface XY {
  x: readonly number[];
  y: readonly (number | null)[];
}

/** [x, y1, y2, …] over the sorted union of every curve's x (each curve's x ascending). */
export function mergeCurves(curves: readonly XY[]): [number[], ...(number | null)[][]] {
  const xs: number[] = [];
  const idx = curves.map(() => 0);
  for (;;) {
    let next = Infinity;
    curves.forEach((c, k) => {
      const i = idx[k] as number;
      if (i < c.x.length && (c.x[i] as number) < next) next = c.x[i] as number;
    });
    if (next === Infinity) break;
    xs.push(next);
    curves.forEach((c, k) => {
      while ((idx[k] as number) < c.x.length && c.x[idx[k] as number] === next)
        idx[k] = (idx[k] as number) + 1;
    });
  }
  const ys = curves.map((c) => {
    const out = new Array<number | null>(xs.length).fill(null);
    let j = 0;
    for (let i = 0; i < c.x.length; i++) {
      while (j < xs.length && xs[j] !== c.x[i]) j++;
      if (j < xs.length) out[j] = c.y[i] ?? null;
    }
    return out;
  });
  return [xs, ...ys];
}
