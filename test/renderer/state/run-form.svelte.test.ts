import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { RunForm } from '../../../renderer/src/lib/state/run-form.svelte.ts';
import { settle, testBridge } from '../bridge.ts';
import { dataset, model, runSummary, systemInfo } from '../fixtures.ts';

function bridge(
  validate: (
    args: HandlerArgs<'run/validate'>,
  ) => HandlerResult<'run/validate'> | Promise<HandlerResult<'run/validate'>>,
) {
  return testBridge({
    'run/presets': () => [
      {
        name: 'head-lr',
        description: 'head, LR',
        spec: {
          mode: { kind: 'head' },
          train: { estimator: 'lr', budgetPerSample: 4, lrSigma: 0.1, batchSize: 16 },
        },
      },
    ],
    'dataset/list': () => [dataset()],
    'model/list': () => [model({ id: 3 })],
    // Measured by system/info on recent completed runs: the head-mode LR rate of model 3 is the one that fits.
    'system/info': () =>
      systemInfo({
        throughput: [
          {
            provider: 'cpu',
            modelId: 3,
            mode: 'lora',
            estimator: 'spsa',
            rowsPerSecond: 500,
            queriesPerSecond: 200,
            runs: 1,
            finishedAt: 3,
          },
          {
            provider: 'cpu',
            modelId: 3,
            mode: 'head',
            estimator: 'spsa',
            rowsPerSecond: 2000,
            queriesPerSecond: 900,
            runs: 2,
            finishedAt: 2,
          },
          {
            provider: 'cpu',
            modelId: 9,
            mode: 'head',
            estimator: 'spsa',
            rowsPerSecond: 7000,
            queriesPerSecond: 3000,
            runs: 4,
            finishedAt: 1,
          },
        ],
      }),
    'run/validate': validate,
  });
}

const ok = (): HandlerResult<'run/validate'> =>
  ({ ok: true, spec: {} as never, requested: {} as never, warnings: [] }) as HandlerResult<'run/validate'>;

describe('RunForm', () => {
  it('loads choices, picks the first model and dataset, and previews the cost', async () => {
    const form = new RunForm(bridge(ok));
    await form.load();
    expect(form.modelId).toBe(3);
    expect(form.datasetVersionId).toBe('a'.repeat(64));
    expect(form.rowsPerSecond).toBe(2000);
    expect(form.measured?.basis).toBe('2 recent runs of this model, head mode, spsa on cpu');
    form.budgetPerSample = 10;
    form.batchSize = 32;
    form.estimator = 'spsa';
    flushSync();
    const cost = form.cost;
    expect(cost.queriesPerStep).toBe(320);
    expect(cost.forwardRowsPerStep).toBe(32 + 640);
    expect(cost.stepsPerEpoch).toBe(12); // 400 training images
    expect(cost.estimatedMs).toBeCloseTo((12 * 672 * 1000) / 2000, 6);
    form.kShot = 2;
    expect(form.trainSize).toBe(10); // 2 per class × 5 classes
    // Another mode is another rate: LoRA's own measurement, never the head's.
    form.modeKind = 'lora';
    expect(form.rowsPerSecond).toBe(500);
    form.modeKind = 'vpt';
    expect(form.rowsPerSecond).toBeNull();
    expect(form.cost.estimatedMs).toBeNull();
  });

  it('evaluates on the test split when the dataset has no validation split', async () => {
    const b = bridge(ok);
    b.handle({
      'dataset/list': () => [
        dataset({ splitCounts: { counts: { train: 400, val: 0, test: 100 }, perClass: {} } }),
      ],
    });
    const form = new RunForm(b);
    await form.load();
    expect(form.evalSplit).toBe('test');
    expect(form.splitSizes).toEqual({ train: 400, val: 0, test: 100 });
  });

  it('builds the spec the fields describe', async () => {
    const form = new RunForm(bridge(ok));
    await form.load();
    form.estimator = 'lr';
    form.allocator = 'neyman';
    form.neymanDecay = 0.8;
    form.modeKind = 'lora';
    form.loraRank = 8;
    form.maxSteps = 50;
    form.tags = 'a, b';
    expect(form.spec).toMatchObject({
      modelId: 3,
      mode: { kind: 'lora', rank: 8, alpha: 16 },
      tags: ['a', 'b'],
      train: { estimator: 'lr', allocator: { kind: 'neyman', decay: 0.8 }, lrSigma: 0.1, maxSteps: 50 },
    });
    expect(form.spec.train).not.toHaveProperty('spsaEps');
  });

  it('puts validation issues next to their fields and drops a stale answer', async () => {
    const answers: ((r: HandlerResult<'run/validate'>) => void)[] = [];
    const form = new RunForm(bridge(() => new Promise((resolve) => answers.push(resolve))));
    const first = form.validate();
    const second = form.validate();
    answers[1]?.({ ok: false, issues: [{ field: 'train.budgetPerSample', message: 'must be even' }] });
    await second;
    answers[0]?.({ ok: false, issues: [{ field: 'modelId', message: 'stale' }] });
    await first;
    expect(form.issuesFor('budget')).toEqual(['must be even']);
    expect(form.issuesFor('model')).toEqual([]);
    expect(form.valid).toBe(false);
  });

  it('shows bad arguments the server rejects as field issues too', async () => {
    const form = new RunForm(
      bridge(() => {
        throw Object.assign(new Error('invalid arguments'), {
          issues: [{ field: 'spec', message: 'must be an object' }],
        });
      }),
    );
    await form.validate();
    expect(form.unplaced).toEqual(['spec: must be an object']);
  });

  it('applies a preset and validates against it', async () => {
    const b = bridge(ok);
    const form = new RunForm(b);
    await form.load();
    form.choosePreset('head-lr');
    expect(form.estimator).toBe('lr');
    expect(form.budgetPerSample).toBe(4);
    expect(form.batchSize).toBe(16);
    await form.validate();
    expect(b.callsTo('run/validate')[0]).toMatchObject({ preset: 'head-lr' });
  });

  it('debounces validation while typing', async () => {
    const b = bridge(ok);
    const form = new RunForm(b);
    for (let i = 0; i < 5; i++) form.requestValidation();
    await new Promise((r) => setTimeout(r, 350));
    await settle();
    expect(b.callsTo('run/validate')).toHaveLength(1);
    form.dispose();
  });

  it('creates one run, or one per seed as a sweep', async () => {
    const b = bridge(ok);
    b.handle({
      'run/create': () => runSummary({ id: 9 }),
      'sweep/create': (args) => ({
        name: 's',
        tag: 'sweep:s',
        kind: 'grid',
        points: [],
        runs: ('grid' in args ? (args.grid.seed ?? []) : []).map((seed, i) =>
          runSummary({ id: 20 + i, seed }),
        ),
      }),
    });
    const form = new RunForm(b);
    await form.load();
    expect(await form.submit()).toEqual([9]);
    form.seed = 5;
    form.seeds = 3;
    expect(await form.submit()).toEqual([20, 21, 22]);
    expect(b.callsTo('sweep/create')[0]).toMatchObject({ grid: { seed: [5, 6, 7] } });
    form.seeds = 0;
    expect(await form.submit()).toEqual([]);
    expect(form.issuesFor('seeds')).toHaveLength(1);
  });
});
