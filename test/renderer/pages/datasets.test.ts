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

  it('shows a sample grid of the selected version with class names, a class filter and paging', async () => {
    const classes = ['cat', 'dog'];
    const all = Array.from({ length: 60 }, (_, index) => ({
      index,
      label: index % 2,
      className: classes[index % 2]!,
      split: 'train' as const,
      png: 'data:image/png;base64,iVBORw0KGgo=',
    }));
    const b = testBridge({
      'dataset/list': () => [dataset({ classes })],
      'dataset/samples': (a) => {
        const match = all.filter((s) => a.classIndex === undefined || s.label === a.classIndex);
        const offset = a.offset ?? 0;
        return { total: match.length, offset, samples: match.slice(offset, offset + (a.limit ?? 48)) };
      },
    });
    page = await mountAt('#/datasets', b);
    await settle(5);
    flushSync();
    expect(page.$$('ul.samples li')).toHaveLength(48);
    expect(page.$('ul.samples li .name')?.textContent).toBe('cat');
    expect(page.target.textContent).toContain('Page 1 of 2');
    [...page.$$<HTMLButtonElement>('button')].find((x) => x.textContent?.trim() === 'Next')?.click();
    await settle(5);
    flushSync();
    expect(page.$$('ul.samples li')).toHaveLength(12);
    const select = page.$<HTMLSelectElement>('select[aria-label="Class filter"]')!;
    select.value = '1';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    await settle(5);
    flushSync();
    const names = page.$$('ul.samples li .name').map((n) => n.textContent);
    expect(names).toHaveLength(30);
    expect(new Set(names)).toEqual(new Set(['dog']));
    expect(b.callsTo('dataset/samples').at(-1)).toMatchObject({ offset: 0, classIndex: 1 });
  });

  it('offers Browse buttons under a transport with native dialogs, and fills the path from the chosen folder', async () => {
    const b = testBridge({
      'dataset/list': () => [],
      'dialog/available': () => ({ available: true }),
      'dialog/open-folder': () => ({ available: true, path: '/home/me/pets' }),
      'dialog/open-file': () => ({ available: true, path: null }),
    });
    page = await mountAt('#/datasets', b);
    const input = page.$<HTMLInputElement>('#ds-path')!;
    type(input, '/home/me');
    page.$<HTMLButtonElement>('[data-testid="browse-folder"]')!.click();
    await settle();
    flushSync();
    expect(input.value).toBe('/home/me/pets');
    expect(b.callsTo('dialog/open-folder')).toEqual([{ title: 'Import a dataset', defaultPath: '/home/me' }]);
    // A cancelled file dialog leaves the path as it was.
    page.$<HTMLButtonElement>('[data-testid="browse-file"]')!.click();
    await settle();
    flushSync();
    expect(input.value).toBe('/home/me/pets');
    expect(b.callsTo('dialog/open-file')[0]).toMatchObject({
      filters: [
        { name: 'All files', extensions: ['*'] },
        { name: 'CSV manifest', extensions: ['csv'] },
      ],
    });
  });

  it('keeps only the path field where dialogs are not available (a browser against flops serve)', async () => {
    const b = testBridge({
      'dataset/list': () => [],
      'dialog/available': () => ({ available: false, reason: 'a browser cannot open native file dialogs' }),
    });
    page = await mountAt('#/datasets', b);
    expect(page.$('#ds-path')).not.toBeNull();
    expect(page.$('[data-testid="browse-folder"]')).toBeNull();
    expect(b.callsTo('dialog/available')).toEqual([{}]);
    expect(b.callsTo('dialog/open-folder')).toEqual([]);
  });
});
