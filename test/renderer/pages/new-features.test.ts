// The new views mounted in the whole App with a test bridge: the ONNX initializer checklist on New run (default
// checked, LR disabled for any other set, keyboard-reachable checkboxes with labels), the sweep section (the core's
// preview as a table, launch lands on the Runs table filtered to the sweep's tag with its runs selected) and the
// re-split form on Datasets (the core's message under its field, the new version selected).
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { HandlerResult } from '../../../app/contract.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset, model, runSummary } from '../fixtures.ts';
import { mountAt, type } from './mount.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = { ok: true, spec: {}, requested: {}, warnings: [] } as unknown as HandlerResult<'run/validate'>;

const onnxModes: HandlerResult<'model/modes'> = {
  modelId: 4,
  total: 25_285,
  numClasses: 5,
  modes: [
    { mode: { kind: 'onnx', trainable: ['fc2.weight', 'fc2.bias'] }, trainable: 165, fraction: 0.0065 },
  ],
  onnx: {
    initializers: [
      { name: 'fc1.weight', shape: [32, 784], dtype: 'FLOAT', size: 25_088, trainable: true, head: false },
      { name: 'fc1.bias', shape: [32], dtype: 'FLOAT', size: 32, trainable: true, head: false },
      { name: 'fc2.weight', shape: [5, 32], dtype: 'FLOAT', size: 160, trainable: true, head: true },
      { name: 'fc2.bias', shape: [5], dtype: 'FLOAT', size: 5, trainable: true, head: true },
    ],
    defaultTrainable: ['fc2.weight', 'fc2.bias'],
    outputs: 5,
    newHead: false,
  },
};

describe('new views', () => {
  let page: Awaited<ReturnType<typeof mountAt>>;
  afterEach(() => page.destroy());

  it('New run on an ONNX model: a checklist of initializers instead of the mode picker', async () => {
    const b = testBridge({
      'run/presets': () => [],
      'dataset/list': () => [dataset()],
      'model/list': () => [model({ id: 4, kind: 'onnx', name: 'mlp' })],
      'model/modes': () => onnxModes,
      'run/validate': () => ok,
    });
    page = await mountAt('#/runs/new', b);
    await settle();
    flushSync();
    expect(page.$('#nr-mode')).toBeNull();
    const boxes = page.$$<HTMLInputElement>('[data-testid="onnx-initializers"] input[type="checkbox"]');
    expect(boxes.map((x) => x.checked)).toEqual([false, false, true, true]);
    // Each checkbox has its label (the initializer's name).
    expect(page.$('label[for="nr-init-fc1.bias"]')?.textContent).toBe('fc1.bias');
    expect(page.$('[data-testid="onnx-initializers"]')?.textContent).toContain('165 parameters');
    const lr = page.$<HTMLOptionElement>('#nr-estimator option[value="lr"]');
    expect(lr?.disabled).toBe(false);
    boxes[1]!.click();
    flushSync();
    expect(page.$('[data-testid="onnx-initializers"]')?.textContent).toContain('197 parameters');
    expect(lr?.disabled).toBe(true);
    expect(page.$('#nr-estimator-hint')?.textContent).toContain('logits layer');
    await wait(300);
    await settle();
    const spec = (b.callsTo('run/validate').at(-1) as { spec: { mode: unknown } }).spec;
    expect(spec.mode).toEqual({ kind: 'onnx', trainable: ['fc1.bias', 'fc2.weight', 'fc2.bias'] });
  });

  it('New run as a sweep: previews the trials and lands on the filtered, selected runs', async () => {
    const runs = [
      runSummary({ id: 11, name: 's #1 lr=0.01', tags: ['sweep:s'] }),
      runSummary({ id: 12, name: 's #2 lr=0.003', tags: ['sweep:s'] }),
      runSummary({ id: 5, name: 'other' }),
    ];
    const b = testBridge({
      'run/presets': () => [],
      'dataset/list': () => [dataset()],
      'model/list': () => [model()],
      'model/modes': () => ({ modelId: 1, total: 10, numClasses: 5, modes: [] }),
      'run/validate': () => ok,
      'sweep/preview': (a) => ({
        name: a.name ?? 's',
        tag: 'sweep:s',
        kind: 'random',
        points: [{ lr: 0.01 }, { lr: 0.003 }],
        names: ['s #1 lr=0.01', 's #2 lr=0.003'],
        issues: [],
      }),
      'sweep/create': () => ({
        name: 's',
        tag: 'sweep:s',
        kind: 'random',
        points: [{ lr: 0.01 }, { lr: 0.003 }],
        runs: runs.slice(0, 2) as unknown as HandlerResult<'sweep/create'>['runs'],
      }),
      'run/list': () => runs,
    });
    page = await mountAt('#/runs/new', b);
    page.$<HTMLInputElement>('#nr-sweep')!.click();
    flushSync();
    type(page.$<HTMLInputElement>('#sw-trials'), '2');
    type(page.$<HTMLInputElement>('#sw-lr'), '1e-3:1e-1');
    await wait(400);
    await settle();
    flushSync();
    const rows = page.$$('[data-testid="sweep-preview"] tbody tr');
    expect(rows.map((r) => r.children[1]?.textContent?.trim())).toEqual(['0.01', '0.003']);
    expect(b.callsTo('sweep/preview').at(-1)).toMatchObject({
      random: { trials: 2, lr: { min: 1e-3, max: 0.1 } },
    });
    const launch = [...page.$$<HTMLButtonElement>('button')].find((x) =>
      x.textContent?.includes('Launch 2 runs'),
    );
    launch!.click();
    await settle(10);
    flushSync();
    expect(window.location.hash).toBe('#/runs?tag=sweep%3As');
    await settle(5);
    flushSync();
    expect(page.$$('table.runs tbody tr')).toHaveLength(2);
    expect(page.$('.toolbar')?.textContent).toContain('2 selected');
  });

  it('Datasets: re-splits, shows the core message under its field, then the new version', async () => {
    const made = dataset({
      id: 'c'.repeat(64),
      splitCounts: {
        counts: { train: 300, val: 100, test: 100 },
        perClass: { train: [60, 60, 60, 60, 60], val: [20, 20, 20, 20, 20], test: [20, 20, 20, 20, 20] },
      },
    });
    let list = [dataset()];
    let refuse = true;
    const b = testBridge({
      'dataset/list': () => list,
      'dataset/samples': () => ({ total: 0, offset: 0, samples: [] }),
      'dataset/split': () => {
        if (refuse) {
          throw Object.assign(new Error('bad'), {
            code: 'ARGS_INVALID',
            issues: [{ field: 'name', message: 'Too big: expected string to have <=200 characters' }],
          });
        }
        list = [made, ...list];
        return made;
      },
    });
    page = await mountAt('#/datasets', b);
    await settle();
    flushSync();
    const submit = () => {
      page.$<HTMLFormElement>('form.split')!.requestSubmit();
    };
    submit();
    await settle();
    flushSync();
    expect(page.$('#split-name-issues')?.textContent).toContain('<=200 characters');
    expect(page.$('#split-name')?.getAttribute('aria-invalid')).toBe('true');
    refuse = false;
    submit();
    await settle(10);
    flushSync();
    expect(page.$('[data-testid="split-result"]')?.textContent).toMatch(/300 train · 100 val · 100 test/);
    expect(page.$('#detail-title')?.textContent).toBe('fashion-mnist-demo');
    expect(page.$('table.balance tbody')?.textContent).toContain('100');
    expect(b.callsTo('dataset/split').at(-1)).toEqual({
      id: 'a'.repeat(64),
      val: 0.1,
      test: 0.1,
      seed: 0,
      keepTest: false,
    });
  });
});
