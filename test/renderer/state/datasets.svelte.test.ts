import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import type { HandlerResult } from '../../../app/contract.ts';
import { DatasetsState, reportLists } from '../../../renderer/src/lib/state/datasets.svelte.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset } from '../fixtures.ts';

describe('DatasetsState', () => {
  it('imports with progress, then shows the report of skipped files and selects the new version', async () => {
    const imported = dataset({
      id: 'c'.repeat(64),
      name: 'mine',
      report: {
        skipped: [{ path: 'a/readme.txt', code: 'not-image', message: 'not an image' }],
        notes: [{ path: 'b', code: 'empty-class', message: 'no images' }],
      },
    });
    let finish!: (r: HandlerResult<'dataset/import'>) => void;
    const bridge = testBridge({
      'dataset/list': () => [dataset(), imported],
      'dataset/import': () => new Promise((resolve) => (finish = resolve)),
      'dataset/get': () => imported,
    });
    const state = new DatasetsState(bridge);
    const done = state.import(' /data/mine ', 'mine');
    flushSync();
    const importId = state.importing?.importId as string;
    expect(importId).toBeTruthy();
    expect(bridge.callsTo('dataset/import')[0]).toEqual({ path: '/data/mine', importId, name: 'mine' });

    bridge.emit('dataset/import-progress', { importId, done: 3, total: 10 });
    bridge.emit('dataset/import-progress', { importId: 'someone-else', done: 9, total: 9 });
    flushSync();
    expect(state.importing).toMatchObject({ done: 3, total: 10 });

    finish({
      importId,
      dataset: imported,
      summary: {
        scanned: 11,
        imported: 10,
        skipped: 1,
        skippedByCode: { 'not-image': 1 },
        notes: 1,
        elapsedMs: 5,
      },
    });
    await done;
    flushSync();
    expect(state.importing).toBeNull();
    expect(state.lastImport?.skipped).toEqual([
      { path: 'a/readme.txt', code: 'not-image', message: 'not an image' },
    ]);
    expect(state.lastImport?.notes).toHaveLength(1);
    expect(state.list).toHaveLength(2);
    expect(state.selected?.id).toBe(imported.id);
    state.dispose();
    expect(bridge.listenerCount('dataset/import-progress')).toBe(0);
  });

  it('reports a failed import and an empty path without calling the server', async () => {
    const bridge = testBridge({
      'dataset/import': () => {
        throw Object.assign(new Error('/nope does not exist'), { code: 'NOT_FOUND' });
      },
    });
    const state = new DatasetsState(bridge);
    await state.import('   ');
    expect(state.importError).toMatch(/Enter the path/);
    expect(bridge.calls).toHaveLength(0);
    await state.import('/nope');
    expect(state.importError).toBe('/nope does not exist');
    expect(state.importing).toBeNull();
  });

  it('reads per-file lists from stored reports defensively', () => {
    expect(reportLists(null)).toEqual({ skipped: [], notes: [] });
    expect(reportLists({ skipped: [{ path: 'x', code: 'corrupt' }, 3] }).skipped).toEqual([
      { path: 'x', code: 'corrupt', message: '' },
    ]);
  });

  it('refreshes the list and keeps the error of a failed refresh', async () => {
    const bridge = testBridge({ 'dataset/list': () => [dataset()] });
    const state = new DatasetsState(bridge);
    await state.refresh();
    expect(state.list).toHaveLength(1);
    bridge.handle({
      'dataset/list': () => {
        throw new Error('database is locked');
      },
    });
    await state.refresh();
    await settle();
    expect(state.error).toBe('database is locked');
    expect(state.list).toHaveLength(1);
  });
});
