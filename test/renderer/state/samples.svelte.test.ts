import { describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { SampleGridState } from '../../../renderer/src/lib/state/samples.svelte.ts';
import { settle, testBridge } from '../bridge.ts';

const CLASSES = ['cat', 'dog', 'fox'];
// 25 samples: label i % 3, split train except every fifth (test).
const ALL = Array.from({ length: 25 }, (_, index) => ({
  index,
  label: index % 3,
  className: CLASSES[index % 3]!,
  split: (index % 5 === 4 ? 'test' : 'train') as 'train' | 'test',
  png: `data:image/png;base64,${index}`,
}));

function samples(a: HandlerArgs<'dataset/samples'>): HandlerResult<'dataset/samples'> {
  const match = ALL.filter(
    (s) =>
      (a.split === undefined || s.split === a.split) &&
      (a.classIndex === undefined || s.label === a.classIndex),
  );
  const offset = a.offset ?? 0;
  return { total: match.length, offset, samples: match.slice(offset, offset + (a.limit ?? 48)) };
}

describe('SampleGridState', () => {
  it('pages through a dataset and filters by class and split, restarting at the first page', async () => {
    const bridge = testBridge({ 'dataset/samples': samples });
    const grid = new SampleGridState(bridge, 10);
    await grid.show('a'.repeat(64));
    expect(bridge.callsTo('dataset/samples')[0]).toEqual({ id: 'a'.repeat(64), offset: 0, limit: 10 });
    expect(grid.samples.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([grid.total, grid.page, grid.pages, grid.hasPrev, grid.hasNext]).toEqual([25, 1, 3, false, true]);

    await grid.next();
    await grid.next();
    expect(grid.samples.map((s) => s.index)).toEqual([20, 21, 22, 23, 24]);
    expect([grid.page, grid.hasNext]).toEqual([3, false]);
    await grid.next(); // no page 4
    expect(bridge.callsTo('dataset/samples')).toHaveLength(3);

    await grid.setClass(1);
    expect(bridge.callsTo('dataset/samples').at(-1)).toEqual({
      id: 'a'.repeat(64),
      offset: 0,
      limit: 10,
      classIndex: 1,
    });
    expect(grid.samples.every((s) => s.className === 'dog')).toBe(true);
    expect([grid.total, grid.pages]).toEqual([8, 1]);

    await grid.setSplit('test');
    expect(grid.samples.map((s) => s.index)).toEqual([4, 19]);
    await grid.setClass(null);
    expect(grid.samples.map((s) => s.index)).toEqual([4, 9, 14, 19, 24]);

    // Another dataset starts again without filters; the same one again does not reload.
    const calls = bridge.callsTo('dataset/samples').length;
    await grid.show('a'.repeat(64));
    expect(bridge.callsTo('dataset/samples')).toHaveLength(calls);
    await grid.show('b'.repeat(64));
    expect([grid.split, grid.classIndex, grid.offset, grid.total]).toEqual([null, null, 0, 25]);
  });

  it('keeps only the newest answer and reports errors', async () => {
    const pending: (() => void)[] = [];
    const bridge = testBridge({
      'dataset/samples': (a) => new Promise((resolve) => pending.push(() => resolve(samples(a)))),
    });
    const grid = new SampleGridState(bridge, 10);
    const first = grid.show('a'.repeat(64));
    const second = grid.setClass(2);
    pending[1]!();
    await second;
    pending[0]!();
    await first;
    await settle();
    expect(grid.classIndex).toBe(2);
    expect(grid.samples.every((s) => s.label === 2)).toBe(true);
    expect(grid.loading).toBe(false);

    bridge.handle({
      'dataset/samples': () => {
        throw Object.assign(new Error('dataset version x has no cache'), { code: 'DATASET_MISSING' });
      },
    });
    await grid.setSplit('val');
    expect(grid.error).toMatch(/no cache/);
    expect(grid.samples).toEqual([]);
  });
});
