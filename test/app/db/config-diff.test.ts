import { expect, it } from 'vitest';

import { diffConfigs, flattenConfig } from '../../../app/db/config-diff.ts';

it('flattens nested objects to dotted keys, keeping arrays and empty objects whole', () => {
  expect(
    Object.fromEntries(flattenConfig({ a: { b: 1, c: { d: 'x' } }, shape: [3, 32, 32], e: {}, n: null })),
  ).toEqual({ 'a.b': 1, 'a.c.d': 'x', shape: [3, 32, 32], e: {}, n: null });
  expect([...flattenConfig(undefined)]).toEqual([]);
});

it('reports keys that differ, are missing somewhere, or changed type; never key order', () => {
  const a = { opt: { lr: 1, betas: [0.9, 0.99] }, sched: { kind: 'cosine', warmup: 5 } };
  const b = { sched: { warmup: 5, kind: 'cosine' }, opt: { betas: [0.9, 0.999], lr: 1 } };
  const c = { opt: { lr: '1', betas: [0.9, 0.99] }, sched: 'constant' };
  expect(diffConfigs([a, b])).toEqual([
    {
      key: 'opt.betas',
      values: [
        [0.9, 0.99],
        [0.9, 0.999],
      ],
    },
  ]);
  expect(diffConfigs([a, c]).map((d) => d.key)).toEqual(['opt.lr', 'sched', 'sched.kind', 'sched.warmup']);
  expect(diffConfigs([{ x: { y: 1 } }, { x: { y: 1 } }, null])).toEqual([
    { key: 'x.y', values: [1, 1, undefined] },
  ]);
  expect(diffConfigs([{ o: { k: 1, j: 2 } }, { o: { j: 2, k: 1 } }])).toEqual([]);
  expect(diffConfigs([])).toEqual([]);
});
