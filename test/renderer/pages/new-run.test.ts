import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { HandlerResult } from '../../../app/contract.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset, model, runSummary } from '../fixtures.ts';
import { mountAt, type } from './mount.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bridge() {
  return testBridge({
    'run/presets': () => [],
    'dataset/list': () => [dataset()],
    'model/list': () => [model()],
    'model/modes': () => ({
      modelId: 1,
      total: 100_000,
      numClasses: 5,
      modes: [{ mode: { kind: 'head' }, trainable: 965, fraction: 0.00965 }],
    }),
    'run/list': () => [],
    // The server's rule: LR needs an even budget. Mirrors what run/validate answers.
    'run/validate': (a): HandlerResult<'run/validate'> => {
      const t = a.spec.train as { estimator?: string; budgetPerSample?: number };
      if (t.estimator === 'lr' && (t.budgetPerSample ?? 0) % 2 !== 0) {
        return {
          ok: false,
          issues: [
            {
              field: 'train.budgetPerSample',
              message: 'LR uses antithetic pairs: budgetPerSample must be even',
            },
          ],
        };
      }
      return {
        ok: true,
        spec: {} as never,
        requested: {} as never,
        warnings: [],
      } as HandlerResult<'run/validate'>;
    },
    'run/create': () => runSummary({ id: 42 }),
  });
}

describe('New run page', () => {
  let page: Awaited<ReturnType<typeof mountAt>>;
  afterEach(() => page.destroy());

  it('updates the cost preview as the budget and batch change', async () => {
    page = await mountAt('#/runs/new', bridge());
    type(page.$<HTMLInputElement>('#nr-budget'), '10');
    type(page.$<HTMLInputElement>('#nr-batch'), '32');
    expect(page.$('[data-testid="queries-per-step"]')?.textContent).toBe('320');
    expect(page.$('[data-testid="rows-per-step"]')?.textContent).toBe('672');
    expect(page.$('[data-testid="queries-per-epoch"]')?.textContent).toBe('3\u2009840');
    type(page.$<HTMLInputElement>('#nr-budget'), '4');
    expect(page.$('[data-testid="queries-per-step"]')?.textContent).toBe('128');
    expect(page.$('#nr-mode')?.textContent).toContain('965 params');
  });

  it('shows the validator’s message next to the field and marks it invalid', async () => {
    page = await mountAt('#/runs/new', bridge());
    const estimator = page.$<HTMLSelectElement>('#nr-estimator');
    if (!estimator) throw new Error('no estimator select');
    estimator.value = 'lr';
    estimator.dispatchEvent(new Event('change', { bubbles: true }));
    type(page.$<HTMLInputElement>('#nr-budget'), '5');
    await wait(400);
    await settle();
    flushSync();
    const budget = page.$<HTMLInputElement>('#nr-budget');
    expect(budget?.getAttribute('aria-invalid')).toBe('true');
    expect(page.$('#nr-budget-issues')?.textContent).toContain('budgetPerSample must be even');
    expect(budget?.getAttribute('aria-describedby')).toContain('nr-budget-issues');
    expect(page.$<HTMLButtonElement>('button[type="submit"]')?.disabled).toBe(true);

    type(budget, '6');
    await wait(400);
    await settle();
    flushSync();
    expect(page.$('#nr-budget-issues')).toBeNull();
    expect(page.$<HTMLButtonElement>('button[type="submit"]')?.disabled).toBe(false);
  });

  it('creates the run and opens its view', async () => {
    const b = bridge();
    page = await mountAt('#/runs/new', b);
    page.$<HTMLFormElement>('form.layout')?.requestSubmit();
    await settle(10);
    expect(b.callsTo('run/create')).toHaveLength(1);
    expect(window.location.hash).toBe('#/runs/42');
  });
});
