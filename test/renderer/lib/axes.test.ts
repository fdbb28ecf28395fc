import { describe, expect, it } from 'vitest';

import { appendPoints } from '../../../renderer/src/lib/curve.ts';
import { axisFormat, mergeCurves } from '../../../renderer/src/lib/axes.ts';

describe('mergeCurves', () => {
  it('joins curves on the union of their x, with null where a curve has no point', () => {
    expect(
      mergeCurves([
        { x: [1, 2, 4], y: [10, 20, 40] },
        { x: [2, 3], y: [200, 300] },
      ]),
    ).toEqual([
      [1, 2, 3, 4],
      [10, 20, null, 40],
      [null, 200, 300, null],
    ]);
  });

  it('handles empty curves', () => {
    expect(mergeCurves([{ x: [], y: [] }])).toEqual([[], []]);
  });
});

describe('axisFormat', () => {
  it('formats wall time as a duration and counts compactly', () => {
    expect(axisFormat('wall')(65_000)).toBe('1 min 05 s');
    expect(axisFormat('queries')(12_300)).toBe('12.3k');
  });
});

describe('appendPoints', () => {
  const c = (steps: number[]) => ({ steps, x: steps, y: steps.map((s) => s * 2) });

  it('appends only the points after the last step', () => {
    expect(appendPoints(c([1, 2, 3]), c([2, 3, 4, 5]))).toEqual(c([1, 2, 3, 4, 5]));
  });

  it('returns the same curve when nothing is new (no needless redraw)', () => {
    const base = c([1, 2]);
    expect(appendPoints(base, c([1, 2]))).toBe(base);
  });

  it('decimates once past the limit', () => {
    const long = c(Array.from({ length: 100 }, (_, i) => i));
    const out = appendPoints(long, c([100, 101]), 100, 50);
    expect(out.x.length).toBeLessThanOrEqual(50);
    expect(out.steps.length).toBe(out.y.length);
  });
});
