import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import { settle, testBridge } from '../bridge.ts';
import { runSummary } from '../fixtures.ts';
import { mountAt, type } from './mount.ts';

function bridge() {
  const runs = [
    runSummary({ id: 1, name: 'uniform seed 0', tags: ['baseline'] }),
    runSummary({ id: 2, name: 'flops seed 0' }),
    runSummary({ id: 3, name: 'flops seed 1' }),
  ];
  return testBridge({
    'run/list': () => runs,
    'run/tag': (a) => {
      const r = runs.find((x) => x.id === a.id)!;
      r.tags = a.tags ?? [];
      return r;
    },
    'run/note': (a) => {
      const r = runs.find((x) => x.id === a.id)!;
      r.notes = a.notes;
      return r;
    },
  });
}

describe('Runs page', () => {
  let page: Awaited<ReturnType<typeof mountAt>>;
  afterEach(() => page.destroy());

  it('filters, sorts by a header and selects runs for Compare', async () => {
    page = await mountAt('#/runs', bridge());
    const names = () => page.$$('tbody tr td:nth-child(3) a').map((a) => a.textContent);
    expect(names()).toEqual(['flops seed 1', 'flops seed 0', 'uniform seed 0']);
    type(page.$<HTMLInputElement>('#runs-filter'), 'flops');
    expect(names()).toEqual(['flops seed 1', 'flops seed 0']);
    page
      .$$<HTMLButtonElement>('th button.sort')
      .find((b) => b.textContent?.startsWith('Name'))
      ?.click();
    flushSync();
    expect(names()).toEqual(['flops seed 0', 'flops seed 1']);
    expect(page.$('th[aria-sort="ascending"]')?.textContent).toContain('Name');
    page.$<HTMLInputElement>('input[aria-label="Select all shown runs"]')?.click();
    flushSync();
    const compare = page.$$<HTMLAnchorElement>('a.button').find((a) => a.textContent === 'Compare');
    expect(compare?.getAttribute('href')).toBe('#/compare?ids=2,3');
  });

  it('edits tags and notes inline', async () => {
    const b = bridge();
    page = await mountAt('#/runs', b);
    page
      .$$<HTMLButtonElement>('tbody button')
      .find((x) => x.textContent?.includes('run 1'))
      ?.click();
    flushSync();
    type(page.$<HTMLInputElement>('tr.editing input'), 'baseline, paper');
    type(page.$<HTMLTextAreaElement>('tr.editing textarea'), 'the reference');
    page.$<HTMLFormElement>('tr.editing form')?.requestSubmit();
    await settle(10);
    flushSync();
    expect(b.callsTo('run/tag')).toEqual([{ id: 1, tags: ['baseline', 'paper'] }]);
    expect(b.callsTo('run/note')).toEqual([{ id: 1, notes: 'the reference' }]);
    expect(page.$('tr.editing')).toBeNull();
    expect(page.target.textContent).toContain('the reference');
  });
});
