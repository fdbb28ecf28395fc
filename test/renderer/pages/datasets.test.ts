import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset } from '../fixtures.ts';
import { mountAt, type } from './mount.ts';

describe('Datasets page', () => {
  let page: Awaited<ReturnType<typeof mountAt>>;
  afterEach(() => page.destroy());

  it('imports a folder with progress, then shows the skipped files, splits and class balance', async () => {
    const imported = dataset({
      id: 'd'.repeat(64),
      name: 'pets',
      classes: ['cat', 'dog'],
      splitCounts: {
        counts: { train: 8, val: 1, test: 1 },
        perClass: { train: [6, 2], val: [1, 0], test: [0, 1] },
      },
      report: { skipped: [{ path: 'cat/broken.png', code: 'corrupt', message: 'bad CRC' }], notes: [] },
    });
    let args: HandlerArgs<'dataset/import'> | undefined;
    let finish!: () => void;
    const list: HandlerResult<'dataset/list'> = [];
    const b = testBridge({
      'dataset/list': () => list,
      'dataset/get': () => imported,
      'dataset/import': (a) =>
        new Promise((resolve) => {
          args = a;
          finish = () => {
            list.push(imported);
            resolve({
              importId: a.importId ?? '',
              dataset: imported,
              summary: {
                scanned: 11,
                imported: 10,
                skipped: 1,
                skippedByCode: { corrupt: 1 },
                notes: 0,
                elapsedMs: 40,
              },
            });
          };
        }),
    });
    page = await mountAt('#/datasets', b);
    expect(page.target.textContent).toContain('No datasets yet');
    type(page.$<HTMLInputElement>('#ds-path'), '/data/pets');
    page.$<HTMLFormElement>('form.import')?.requestSubmit();
    await settle();
    b.emit('dataset/import-progress', { importId: args?.importId ?? '', done: 4, total: 11 });
    flushSync();
    expect(page.$('[role="progressbar"]')?.getAttribute('aria-valuenow')).toBe('4');
    expect(page.target.textContent).toContain('4 / 11 files');
    finish();
    await settle(10);
    flushSync();
    expect(page.$('[role="progressbar"]')).toBeNull();
    expect(page.target.textContent).toContain('cat/broken.png');
    expect(page.target.textContent).toContain('corrupt: 1');
    expect(page.$('#detail-title')?.textContent).toBe('pets');
    const rows = page.$$('table.balance tbody tr');
    expect(rows.map((r) => r.querySelector('th')?.textContent)).toEqual(['cat', 'dog']);
    expect(rows.map((r) => r.querySelector('td.num')?.textContent)).toEqual(['7', '3']);
  });
});
