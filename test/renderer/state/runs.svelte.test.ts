import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import { RunsState } from '../../../renderer/src/lib/state/runs.svelte.ts';
import { settle, testBridge } from '../bridge.ts';
import { progress, runSummary } from '../fixtures.ts';

const frame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

describe('RunsState', () => {
  it('filters, sorts and selects for Compare', async () => {
    const bridge = testBridge({
      'run/list': () => [
        runSummary({ id: 1, name: 'b', tags: ['x'] }),
        runSummary({ id: 2, name: 'a' }),
        runSummary({ id: 3, name: 'c', tags: ['x'] }),
      ],
    });
    const runs = new RunsState(bridge);
    await runs.refresh();
    expect(runs.visible.map((r) => r.id)).toEqual([3, 2, 1]); // newest first
    runs.sortBy('name');
    expect(runs.visible.map((r) => r.id)).toEqual([2, 1, 3]);
    runs.sortBy('name');
    expect(runs.visible.map((r) => r.id)).toEqual([3, 1, 2]);
    runs.tag = 'x';
    expect(runs.visible.map((r) => r.id)).toEqual([3, 1]);
    runs.toggleAllVisible();
    expect(runs.selected).toEqual([3, 1]);
    runs.toggle(1);
    expect(runs.compareHref).toBe('#/compare?ids=3');
    expect(runs.allTags).toEqual(['x']);
    runs.dispose();
  });

  it('patches running rows once per frame from progress events', async () => {
    const bridge = testBridge({ 'run/list': () => [runSummary({ id: 1, status: 'running' })] });
    const runs = new RunsState(bridge);
    await runs.refresh();
    const before = runs.all;
    for (let s = 1; s <= 20; s++) bridge.emit('run/progress', progress(1, s));
    expect(runs.all).toBe(before); // nothing until the frame
    await frame();
    flushSync();
    expect(runs.all).not.toBe(before);
    expect(runs.all[0]?.stats.steps).toBe(20);
    expect(runs.all[0]?.stats.queries).toBe(20 * 320);
    runs.dispose();
    expect(bridge.listenerCount('run/progress')).toBe(0);
  });

  it('reloads after status events, coalesced', async () => {
    let lists = 0;
    const bridge = testBridge({
      'run/list': () => {
        lists++;
        return [runSummary({ id: 1 })];
      },
    });
    const runs = new RunsState(bridge);
    bridge.emit('run/status', { runId: 1, status: 'running' });
    bridge.emit('run/status', { runId: 1, status: 'completed' });
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(lists).toBe(1);
    runs.dispose();
  });

  it('edits tags and notes through the contract and shows the stored values', async () => {
    const bridge = testBridge({
      'run/list': () => [runSummary({ id: 4 })],
      'run/tag': (a) => runSummary({ id: a.id, tags: [...new Set(a.tags)].sort() }),
      'run/note': (a) => runSummary({ id: a.id, notes: a.notes, tags: ['b', 'z'] }),
      'run/delete': (a) => ({ id: a.id, deleted: true as const }),
    });
    const runs = new RunsState(bridge);
    await runs.refresh();
    await runs.setTags(4, ['z', 'b', 'z']);
    expect(runs.all[0]?.tags).toEqual(['b', 'z']);
    await runs.setNotes(4, 'good one');
    expect(runs.all[0]?.notes).toBe('good one');
    runs.toggle(4);
    await runs.remove(4);
    expect(runs.all).toEqual([]);
    expect(runs.selected).toEqual([]);
    runs.dispose();
  });
});
