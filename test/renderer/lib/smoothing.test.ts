import { describe, expect, it } from 'vitest';

import { decimateIndices, smoothEma } from '../../../renderer/src/lib/smoothing.ts';

describe('smoothEma', () => {
  it('returns the input for weight 0', () => {
    expect(smoothEma([1, 2, 3], 0)).toEqual([1, 2, 3]);
  });

  it('is debiased: a constant series stays constant from the first point', () => {
    for (const v of smoothEma([5, 5, 5, 5], 0.9)) expect(v).toBeCloseTo(5, 12);
  });

  it('matches the debiased EMA recurrence', () => {
    const w = 0.5;
    // last = 0.5·0 + 0.5·2 = 1 → 1/(1−0.5) = 2; last = 0.5·1 + 0.5·4 = 2.5 → 2.5/(1−0.25) = 3.333…
    const out = smoothEma([2, 4], w);
    expect(out[0]).toBeCloseTo(2, 12);
    expect(out[1]).toBeCloseTo(10 / 3, 12);
  });

  it('keeps gaps as gaps without disturbing the average', () => {
    const out = smoothEma([2, null, Number.NaN, 4], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    expect(out[3]).toBeCloseTo(10 / 3, 12);
  });

  it('lags behind a step change, more with more weight', () => {
    const ys = [0, 0, 0, 0, 1, 1, 1, 1];
    const light = smoothEma(ys, 0.3).at(-1) as number;
    const heavy = smoothEma(ys, 0.9).at(-1) as number;
    expect(heavy).toBeLessThan(light);
    expect(light).toBeLessThan(1);
  });
});

describe('smoothEma in x', () => {
  it('flattens the min/max zigzag of a down-sampled series', () => {
    // 1000 buckets, each drawn as its minimum then its maximum around a constant level of 1.
    const xs: number[] = [];
    const ys: number[] = [];
    for (let b = 0; b < 1000; b++) {
      xs.push(b * 10, b * 10 + 5);
      ys.push(0.5, 1.5);
    }
    const out = smoothEma(ys, 0.6, xs).slice(100) as number[];
    const amplitude = Math.max(...out) - Math.min(...out);
    expect(amplitude).toBeLessThan(0.1); // a per-point average keeps a zigzag of (1 − w)/(1 + w) = 0.25
    const perPoint = smoothEma(ys, 0.6).slice(100) as number[];
    expect(Math.max(...perPoint) - Math.min(...perPoint)).toBeGreaterThan(0.2);
  });

  it('does not depend on how densely the curve is sampled', () => {
    const curve = (n: number) => {
      const xs = Array.from({ length: n }, (_, i) => (i * 1000) / (n - 1));
      return { xs, ys: xs.map((x) => (x < 500 ? 0 : 1)) };
    };
    const sparse = curve(501);
    const dense = curve(2001);
    const at = (c: { xs: number[]; ys: number[] }, x: number) =>
      smoothEma(c.ys, 0.9, c.xs)[c.xs.findIndex((v) => v >= x)] as number;
    for (const x of [510, 550, 600, 800]) expect(at(dense, x)).toBeCloseTo(at(sparse, x), 1);
  });

  it('uses a shared span when given one', () => {
    const ys = [0, 1, 1, 1];
    const xs = [0, 1, 2, 3];
    const own = smoothEma(ys, 0.9, xs).at(-1) as number;
    const wide = smoothEma(ys, 0.9, xs, 3000).at(-1) as number;
    expect(wide).toBeLessThan(own); // the same steps are a smaller part of a longer range: slower to follow
    expect(smoothEma([null, 2, 4], 0.5, [0, 1, 2])[0]).toBeNull();
  });
});

describe('decimateIndices', () => {
  it('keeps everything under the limit', () => {
    expect(decimateIndices([1, 2, 3], 10)).toEqual([0, 1, 2]);
  });

  it('keeps at most maxPoints indices, ascending, and never loses a spike', () => {
    const ys = Array.from({ length: 10_000 }, (_, i) => Math.sin(i / 50));
    ys[7777] = 100;
    ys[1234] = -100;
    const keep = decimateIndices(ys, 1000);
    expect(keep.length).toBeLessThanOrEqual(1000);
    expect(keep).toEqual([...keep].sort((a, b) => a - b));
    expect(keep).toContain(7777);
    expect(keep).toContain(1234);
  });
});
