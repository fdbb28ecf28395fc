import { describe, expect, it } from 'vitest';

import {
  appendHeatmapRows,
  countHistogram,
  countsByLoss,
  denseHistogram,
  gini,
  rankBins,
} from '../../../renderer/src/lib/allocation.ts';

describe('allocation views', () => {
  it('counts samples per query count', () => {
    expect(countHistogram([3, 1, 3, 2, 3])).toEqual({ counts: [1, 2, 3], samples: [1, 1, 3] });
  });

  it('fills the histogram densely between the extremes', () => {
    expect(denseHistogram([2, 5, 5])).toEqual({ x: [2, 3, 4, 5], y: [1, 0, 0, 2], width: 1 });
    const wide = denseHistogram([0, 1000], 10);
    expect(wide.x.length).toBeLessThanOrEqual(10);
    expect(wide.y.reduce((a, b) => a + b, 0)).toBe(2);
    expect(denseHistogram([])).toEqual({ x: [], y: [], width: 1 });
  });

  it('averages counts per loss-rank bin, lowest loss first', () => {
    // losses rank: row 1 (0.1) < row 3 (0.2) < row 0 (0.5) < row 2 (0.9)
    expect(rankBins([10, 2, 20, 4], [0.5, 0.1, 0.9, 0.2], 2)).toEqual([3, 15]);
    expect(rankBins([1, 2], [0, 1], 4)).toEqual([1, 0, 2, 0]);
  });

  it('sorts the scatter by loss', () => {
    expect(countsByLoss([10, 2, 20], [0.5, 0.1, 0.9])).toEqual({ loss: [0.1, 0.5, 0.9], count: [2, 10, 20] });
  });

  it('gini is 0 for uniform counts and grows with concentration', () => {
    expect(gini([5, 5, 5, 5])).toBe(0);
    expect(gini([0, 0, 0, 20])).toBeCloseTo(0.75, 12);
    expect(gini([])).toBe(0);
  });

  it('halves the heatmap resolution instead of dropping the start', () => {
    let h = { steps: [] as number[], bins: 2, rows: [] as number[][] };
    for (let s = 1; s <= 50; s++) h = appendHeatmapRows(h, [{ step: s, row: [s, s] }], 20);
    expect(h.rows.length).toBeLessThanOrEqual(20);
    expect(h.steps.length).toBe(h.rows.length);
    expect(h.steps[0]).toBeLessThanOrEqual(4);
    expect(h.steps.at(-1)).toBe(50);
    expect(h.steps).toEqual([...h.steps].sort((a, b) => a - b));
  });
});
