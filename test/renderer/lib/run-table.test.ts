import { describe, expect, it } from 'vitest';

import { filterRuns, parseTags, sortRuns, toggleAll } from '../../../renderer/src/lib/run-table.ts';
import { runSummary } from '../fixtures.ts';

const runs = [
  runSummary({ id: 1, name: 'Alpha', status: 'completed', tags: ['baseline'], lastLoss: 0.5 }),
  runSummary({ id: 2, name: 'beta', status: 'running', notes: 'try a larger eps', tags: [] }),
  runSummary({ id: 3, name: 'Gamma', status: 'failed', tags: ['flops', 'baseline'] }),
];
runs[2]!.stats = { ...runs[2]!.stats, lastLoss: null };

describe('run table', () => {
  it('filters by text over name, notes and tags, and by status and tag', () => {
    const ids = (f: Parameters<typeof filterRuns>[1]) => filterRuns(runs, f).map((r) => r.id);
    expect(ids({ text: 'ALP', status: '', tag: '' })).toEqual([1]);
    expect(ids({ text: 'eps', status: '', tag: '' })).toEqual([2]);
    expect(ids({ text: 'flo', status: '', tag: '' })).toEqual([3]);
    expect(ids({ text: '#2', status: '', tag: '' })).toEqual([2]);
    expect(ids({ text: '', status: 'failed', tag: '' })).toEqual([3]);
    expect(ids({ text: '', status: '', tag: 'baseline' })).toEqual([1, 3]);
  });

  it('sorts both ways and puts missing values last', () => {
    expect(sortRuns(runs, 'name', 'asc').map((r) => r.id)).toEqual([1, 2, 3]);
    expect(sortRuns(runs, 'name', 'desc').map((r) => r.id)).toEqual([3, 2, 1]);
    const byLoss = (o: 'asc' | 'desc') => sortRuns(runs, 'loss', o).map((r) => r.id);
    expect(byLoss('asc').at(-1)).toBe(3);
    expect(byLoss('desc').at(-1)).toBe(3);
  });

  it('parses tags and toggles selections', () => {
    expect(parseTags(' a, b,,a ')).toEqual(['a', 'b']);
    expect(toggleAll([1], [1, 2])).toEqual([1, 2]);
    expect(toggleAll([1, 2, 5], [1, 2])).toEqual([5]);
  });
});
