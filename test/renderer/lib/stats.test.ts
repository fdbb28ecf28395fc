import { describe, expect, it } from 'vitest';

import { interpolate, meanBand, seedGroups } from '../../../renderer/src/lib/stats.ts';

const curve = (x: number[], y: (number | null)[]) => ({ steps: x, x, y });

describe('seed statistics', () => {
  it('groups runs that differ only in seed (and names)', () => {
    const diff = [
      { key: 'train.seed', values: [0, 1, 2, 0] },
      { key: 'name', values: ['a', 'b', 'c', 'd'] },
      { key: 'train.allocator.kind', values: ['flops', 'flops', 'uniform', 'uniform'] },
    ];
    expect(seedGroups([11, 12, 13, 14], diff)).toEqual([
      [11, 12],
      [13, 14],
    ]);
    expect(seedGroups([1, 2], [])).toEqual([[1, 2]]);
  });

  it('interpolates linearly inside the range only', () => {
    const c = curve([0, 10], [0, 100]);
    expect(interpolate(c, 2.5)).toBe(25);
    expect(interpolate(c, 10)).toBe(100);
    expect(interpolate(c, -1)).toBeNull();
    expect(interpolate(c, 11)).toBeNull();
  });

  it('averages over the common range with one standard deviation', () => {
    const band = meanBand([curve([0, 10], [1, 1]), curve([0, 5, 20], [3, 3, 3])], 3);
    expect(band.x).toEqual([0, 5, 10]);
    expect(band.mean).toEqual([2, 2, 2]);
    expect(band.lo).toEqual([1, 1, 1]);
    expect(band.hi).toEqual([3, 3, 3]);
  });

  it('is empty when the curves share no range', () => {
    expect(meanBand([curve([0, 1], [1, 1]), curve([5, 6], [1, 1])]).x).toEqual([]);
    expect(meanBand([]).x).toEqual([]);
  });
});
