import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { HandlerResult } from '../../../app/contract.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset, model, runSummary, settingsView, systemInfo } from '../fixtures.ts';
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

/** The head-lr preset as run/presets answers it (app/use-cases/presets.ts). */
const headLr = {
  name: 'head-lr',
  description: 'new classifier head, likelihood-ratio estimator (noise at the logits), FLOPS allocation',
  spec: {
    mode: { kind: 'head' },
    train: {
      estimator: 'lr',
      allocator: { kind: 'flops', warmupSteps: 20 },
      budgetPerSample: 10,
      batchSize: 32,
      optimizer: { kind: 'adam', lr: 1e-2 },
      lrSigma: 0.1,
    },
  },
} as HandlerResult<'run/presets'>[number];

function choose(select: HTMLSelectElement | null, value: string): void {
  if (!select) throw new Error('no such select');
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

const selectedText = (select: HTMLSelectElement | null): string | undefined =>
  select?.selectedOptions[0]?.textContent?.trim();

/** Lets the debounced validation or preview run and answer. */
async function idle(): Promise<void> {
  await wait(400);
  await settle();
  flushSync();
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

  it('shows a sweep’s cost per previewed trial, each with its own n̄, and in all', async () => {
    const b = bridge();
    b.handle({
      // 1,000 forward rows/s measured on this model's head mode with SPSA (the form's defaults).
      'system/info': () =>
        systemInfo({
          throughput: [
            {
              provider: 'cpu',
              modelId: 1,
              mode: 'head',
              estimator: 'spsa',
              rowsPerSecond: 1000,
              queriesPerSecond: 500,
              runs: 2,
              finishedAt: 1_700_000_000_000,
            },
          ],
        }),
      'settings/get': () =>
        settingsView({ effective: { providers: ['cpu'], device: 'cpu', threads: null, concurrency: 2 } }),
      'sweep/preview': (a) => ({
        name: a.name ?? 's',
        tag: 'sweep:s',
        kind: 'grid',
        points: [{ budget: 2 }, { budget: 4 }, { budget: 10 }],
        names: ['s budget=2', 's budget=4', 's budget=10'],
        issues: [],
      }),
    });
    page = await mountAt('#/runs/new', b);
    expect(page.$('[data-testid="sweep-cost"]')).toBeNull();
    page.$<HTMLInputElement>('#nr-sweep')!.click();
    flushSync();
    page.$<HTMLInputElement>('input[name="sweep-kind"][value="grid"]')!.click();
    type(page.$<HTMLInputElement>('#sw-budget'), '2, 4, 10');
    await idle();
    const section = page.$('[data-testid="sweep-cost"]');
    expect(section?.querySelector('h3')?.textContent).toBe('Sweep: 3 runs');
    // 400 images / B = 32: 12 steps; a step is 32·n̄ queries and 32 + 64·n̄ forward rows (SPSA).
    const cells = (row: Element) => [...row.children].map((c) => c.textContent?.trim());
    expect(section ? [...section.querySelectorAll('tbody tr')].map(cells) : []).toEqual([
      ['1', '2', '768', '1.92k', '12', '1.9 s'],
      ['2', '4', '1.54k', '3.46k', '12', '3.5 s'],
      ['3', '10', '3.84k', '8.06k', '12', '8.1 s'],
    ]);
    expect(cells(page.$('[data-testid="sweep-cost-total"]')!)).toEqual([
      'Total',
      '6.14k',
      '13.4k',
      '36',
      '13.4 s',
    ]);
    expect(page.$('[data-testid="sweep-total-queries"]')?.textContent).toBe('6\u2009144');
    // Two runs at once: 1.92 + 8.06 s on one slot while 3.46 s runs on the other; at most the sum.
    expect(page.$('[data-testid="sweep-wall-time"]')?.textContent?.trim()).toBe('10.0 s – 13.4 s');
    expect(page.$('[data-testid="sweep-concurrency"]')?.textContent).toContain('Up to 2 runs at once on cpu');
    // One run's figures are still the form's n̄ = 10.
    expect(page.$('[data-testid="queries-per-step"]')?.textContent).toBe('320');

    // Without the device's concurrency, trials are said to run one at a time and the wall time is the sum.
    b.handle({ 'settings/get': () => Promise.reject(new Error('offline')) });
    page.destroy();
    page = await mountAt('#/runs/new', b);
    page.$<HTMLInputElement>('#nr-sweep')!.click();
    flushSync();
    type(page.$<HTMLInputElement>('#sw-budget'), '2, 4, 10');
    await idle();
    expect(page.$('[data-testid="sweep-wall-time"]')?.textContent?.trim()).toBe('13.4 s');
    expect(page.$('[data-testid="sweep-concurrency"]')?.textContent).toContain('one at a time');
  });

  /** A bridge offering the head-lr preset and a one-trial sweep preview. */
  const presetBridge = () => {
    const b = bridge();
    b.handle({
      'run/presets': () => [headLr],
      'sweep/preview': () => ({
        name: 's',
        tag: 'sweep:s',
        kind: 'random',
        points: [{ lr: 0.01 }],
        names: ['s #1 lr=0.01'],
        issues: [],
      }),
    });
    return b;
  };

  it('marks a preset as modified once a field it set changes, and then does not send it', async () => {
    const b = presetBridge();
    page = await mountAt('#/runs/new', b);
    const preset = page.$<HTMLSelectElement>('#nr-preset');
    choose(preset, 'head-lr');
    expect(page.$<HTMLSelectElement>('#nr-estimator')?.value).toBe('lr');
    expect(selectedText(preset)).toBe('head-lr');
    expect(page.$('#nr-preset-hint')?.textContent).toContain('likelihood-ratio');
    await idle();
    expect(b.callsTo('run/validate').at(-1)).toMatchObject({ preset: 'head-lr' });

    // A field the preset does not set (max steps) keeps it.
    type(page.$<HTMLInputElement>('#nr-max-steps'), '50');
    expect(selectedText(preset)).toBe('head-lr');

    choose(page.$<HTMLSelectElement>('#nr-estimator'), 'spsa');
    expect(preset?.value).toBe('head-lr');
    expect(selectedText(preset)).toBe('head-lr (modified)');
    expect(page.$('#nr-preset-hint')?.textContent).toContain('train.estimator');
    expect(page.$('#nr-preset-hint')?.textContent).toContain('without the preset');
    await idle();
    expect(b.callsTo('run/validate').at(-1)).not.toHaveProperty('preset');

    page.$<HTMLFormElement>('form.layout')?.requestSubmit();
    await settle(10);
    const created = b.callsTo('run/create') as {
      spec: { train: Record<string, unknown> };
      preset?: string;
    }[];
    expect(created).toHaveLength(1);
    expect(created[0]).not.toHaveProperty('preset');
    expect(created[0]?.spec.train).toMatchObject({
      estimator: 'spsa',
      budgetPerSample: 10,
      batchSize: 32,
      maxSteps: 50,
      optimizer: { kind: 'adam', lr: 0.01 },
      allocator: { kind: 'flops', warmupSteps: 20 },
    });
  });

  it('claims the preset again once the form matches it, and reapplies it on request', async () => {
    const b = presetBridge();
    page = await mountAt('#/runs/new', b);
    const preset = page.$<HTMLSelectElement>('#nr-preset');
    choose(preset, 'head-lr');
    type(page.$<HTMLInputElement>('#nr-batch'), '16');
    expect(selectedText(preset)).toBe('head-lr (modified)');
    type(page.$<HTMLInputElement>('#nr-batch'), '32');
    expect(selectedText(preset)).toBe('head-lr');

    choose(page.$<HTMLSelectElement>('#nr-estimator'), 'es');
    // A sweep on a modified form does not claim the preset either.
    page.$<HTMLInputElement>('#nr-sweep')!.click();
    flushSync();
    type(page.$<HTMLInputElement>('#sw-lr'), '1e-3:1e-1');
    await idle();
    const previewed = b.callsTo('sweep/preview').at(-1) as { base: { train: { estimator: string } } };
    expect(previewed).not.toHaveProperty('preset');
    expect(previewed.base.train.estimator).toBe('es');

    const reapply = page.$<HTMLButtonElement>('button[aria-label="Reapply preset head-lr"]');
    reapply!.click();
    flushSync();
    expect(page.$<HTMLSelectElement>('#nr-estimator')?.value).toBe('lr');
    expect(selectedText(preset)).toBe('head-lr');
    expect(page.$('button[aria-label="Reapply preset head-lr"]')).toBeNull();
    await idle();
    expect(b.callsTo('sweep/preview').at(-1)).toMatchObject({ preset: 'head-lr' });
  });
});
