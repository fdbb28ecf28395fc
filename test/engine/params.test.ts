import { describe, expect, it } from 'vitest';

import { ModelError } from '../../engine/errors.ts';
import { FlatParams, sizeOf } from '../../engine/params.ts';

const specs = [
  { name: 'head.weight', shape: [3, 4] },
  { name: 'head.bias', shape: [3] },
  { name: 'scale', shape: [] },
];

describe('FlatParams', () => {
  it('lays tensors out in order and hands out zero-copy views', () => {
    const p = new FlatParams(specs);
    expect(p.size).toBe(16);
    expect(p.data.length).toBe(16);
    expect([p.offset('head.weight'), p.offset('head.bias'), p.offset('scale')]).toEqual([0, 12, 15]);
    const w = p.view('head.weight');
    expect(w.length).toBe(12);
    expect(w.buffer).toBe(p.data.buffer);
    w[5] = 2.5;
    p.view('head.bias')[1] = -1;
    p.view('scale')[0] = 7;
    expect(p.data[5]).toBe(2.5);
    expect(p.data[13]).toBe(-1);
    expect(p.data[15]).toBe(7);
    p.data[12] = 4;
    expect(p.view('head.bias')[0]).toBe(4);
    expect(p.view('head.weight')).toBe(w);
    expect(p.shape('head.weight')).toEqual([3, 4]);
    expect(p.has('scale')).toBe(true);
    expect(p.has('nope')).toBe(false);
    expect(sizeOf([2, 3, 5])).toBe(30);
  });

  it('adopts given data without copying and checks its length', () => {
    const data = Float32Array.from({ length: 16 }, (_, i) => i);
    const p = new FlatParams(specs, data);
    expect(p.data).toBe(data);
    expect(Array.from(p.view('head.bias'))).toEqual([12, 13, 14]);
    expect(() => new FlatParams(specs, new Float32Array(15))).toThrow(/15 values but the tensors need 16/);
  });

  it('clones into an independent buffer with the same layout', () => {
    const p = new FlatParams(
      specs,
      Float32Array.from({ length: 16 }, (_, i) => i),
    );
    const c = p.clone();
    expect(c.data).not.toBe(p.data);
    expect(c.data).toEqual(p.data);
    expect(c.specs).toEqual(p.specs);
    c.view('scale')[0] = -3;
    expect(p.view('scale')[0]).toBe(15);
  });

  it('keeps its layout even if the caller mutates the specs it passed', () => {
    const mine = [{ name: 'a', shape: [2] }];
    const p = new FlatParams(mine);
    mine[0]!.shape[0] = 5;
    mine[0]!.name = 'b';
    expect(p.size).toBe(2);
    expect(p.specs[0]).toEqual({ name: 'a', shape: [2] });
    expect(Object.isFrozen(p.specs[0]!.shape)).toBe(true);
  });

  it('rejects bad names and shapes with ModelError', () => {
    expect(() => new FlatParams([{ name: '', shape: [1] }])).toThrow(ModelError);
    expect(
      () =>
        new FlatParams([
          { name: 'a', shape: [1] },
          { name: 'a', shape: [2] },
        ]),
    ).toThrow(/listed twice/);
    expect(() => new FlatParams([{ name: 'a', shape: [2, 0] }])).toThrow(/positive integers/);
    expect(() => new FlatParams([{ name: 'a', shape: [1.5] }])).toThrow(ModelError);
    const p = new FlatParams(specs);
    expect(() => p.view('missing')).toThrow(
      /no trainable tensor named 'missing' \(have: head.weight, head.bias, scale\)/,
    );
    expect(() => p.offset('missing')).toThrow(ModelError);
  });
});
