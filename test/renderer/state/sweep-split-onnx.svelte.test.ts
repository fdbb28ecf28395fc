// The new forms' state classes against a test bridge standing in for the transport: the sweep form (dimension
// parsing, the core's preview and issues placed by field and by trial, launch with the preview's name), the re-split
// form (the core's ARGS_INVALID issues under val/test, the new version's counts) and the ONNX initializer checklist
// of the run form (default set, LR only for the logits layer, parameter counts, the spec it makes).
import { describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { RunForm } from '../../../renderer/src/lib/state/run-form.svelte.ts';
import { SplitForm } from '../../../renderer/src/lib/state/split-form.svelte.ts';
import {
  parseDimension,
  sweepFieldOf,
  SweepForm,
} from '../../../renderer/src/lib/state/sweep-form.svelte.ts';
import { testBridge } from '../bridge.ts';
import { dataset, model } from '../fixtures.ts';

const argsError = (issues: { field: string; message: string }[]) =>
  Object.assign(new Error(issues.map((i) => `${i.field}: ${i.message}`).join('; ')), {
    code: 'ARGS_INVALID',
    issues,
  });

describe('parseDimension', () => {
  it.each([
    ['', 'random', {}],
    ['0.001, 0.01 0.1', 'grid', { value: [0.001, 0.01, 0.1] }],
    ['1e-4:1e-1', 'random', { value: { min: 1e-4, max: 1e-1 } }],
    ['2:16', 'grid', { error: 'a grid takes a list of values (a, b, c); ranges are for random search' }],
    ['0.1, x', 'grid', { error: "'x' is not a number" }],
  ] as const)('%s (%s)', (text, kind, out) => {
    expect(parseDimension(text, kind)).toEqual(out);
  });

  it('places core fields on form fields', () => {
    expect(sweepFieldOf('random.lr.max')).toBe('lr');
    expect(sweepFieldOf('grid.allocator.0')).toBe('allocator');
    expect(sweepFieldOf('random.trials')).toBe('trials');
    expect(sweepFieldOf('random')).toBeNull();
    expect(sweepFieldOf('runs[0] (lr=1).train.budgetPerSample')).toBeNull();
  });
});

function sweepBridge() {
  const points = [
    { lr: 0.08467, budget: 13 },
    { lr: 0.03353, budget: 6 },
  ];
  return testBridge({
    'sweep/preview': (a) => {
      const r = (a as { random?: { lr?: { min: number; max: number } } }).random;
      if (r?.lr && r.lr.min > r.lr.max) {
        return {
          ...{ name: '', tag: '', kind: 'random' as const, points: [], names: [] },
          issues: [{ field: 'random.lr.max', message: 'min must not be above max' }],
        };
      }
      return {
        name: a.name ?? 'sweep-20250101T000000',
        tag: `sweep:${a.name ?? 'sweep-20250101T000000'}`,
        kind: 'random' as const,
        points,
        names: ['#1', '#2'],
        issues:
          a.base.train && (a.base.train as { estimator?: string }).estimator === 'lr'
            ? [
                {
                  field: 'runs[0] (lr=0.08467 budget=13).train.budgetPerSample',
                  message: 'must be even for LR',
                },
              ]
            : [],
      };
    },
    'sweep/create': (a) => ({
      name: a.name ?? '?',
      tag: `sweep:${a.name ?? '?'}`,
      kind: 'random' as const,
      points,
      runs: [{ id: 11 }, { id: 12 }] as unknown as HandlerResult<'sweep/create'>['runs'],
    }),
  });
}

describe('SweepForm', () => {
  it('sends the run form spec with the declared dimensions and shows the preview per trial', async () => {
    const b = sweepBridge();
    const run = new RunForm(b);
    run.modelId = 3;
    run.datasetVersionId = 'a'.repeat(64);
    run.estimator = 'spsa';
    const sweep = new SweepForm(b, run);
    sweep.trials = 2;
    sweep.sweepSeed = 7;
    sweep.lr = '1e-4:1e-1';
    sweep.budget = '2:16';
    sweep.toggleAllocator('flops');
    sweep.toggleAllocator('uniform');
    expect(await sweep.refreshPreview()).toBe(true);
    const sent = b.callsTo('sweep/preview').at(-1) as HandlerArgs<'sweep/create'> & { random: unknown };
    expect(sent.kind).toBe('random');
    expect(sent.random).toEqual({
      trials: 2,
      sweepSeed: 7,
      lr: { min: 1e-4, max: 0.1 },
      budget: { min: 2, max: 16 },
      allocator: ['uniform', 'flops'], // kept in the core's order whatever the clicks
    });
    expect(sent.base.modelId).toBe(3);
    expect(sweep.preview?.points).toHaveLength(2);
    // Undeclared values come from the run form.
    expect(sweep.valueOf(sweep.preview!.points[0]!, 'lr')).toBe(0.08467);
    expect(sweep.valueOf(sweep.preview!.points[0]!, 'eps')).toBe(run.spsaEps);
    expect(sweep.valueOf(sweep.preview!.points[0]!, 'seed')).toBe(0);
    // Launching sends the preview's name (the core's default is a timestamp) and starts the runs.
    const launched = await sweep.launch();
    expect(launched).toEqual({ tag: 'sweep:sweep-20250101T000000', ids: [11, 12] });
    expect(b.callsTo('sweep/create').at(-1)).toMatchObject({ name: 'sweep-20250101T000000', start: true });
  });

  it('shows the core issues under their fields and per trial, and launches nothing then', async () => {
    const b = sweepBridge();
    const run = new RunForm(b);
    const sweep = new SweepForm(b, run);
    sweep.lr = '0.1:0.01';
    expect(await sweep.refreshPreview()).toBe(false);
    expect(sweep.issuesFor('lr')).toEqual(['min must not be above max']);
    sweep.lr = '0.01, abc';
    expect(sweep.issuesFor('lr')).toEqual(["'abc' is not a number"]);
    sweep.lr = '1e-3:1e-1';
    run.estimator = 'lr';
    expect(await sweep.refreshPreview()).toBe(false);
    expect(sweep.rowIssues).toEqual({ 0: ['train.budgetPerSample: must be even for LR'] });
    expect(await sweep.launch()).toBeNull();
    expect(b.callsTo('sweep/create')).toHaveLength(0);
  });
});

describe('SplitForm', () => {
  it('splits with the fractions and seed, leaving test out when the test split is kept', async () => {
    const made = dataset({
      id: 'c'.repeat(64),
      splitCounts: {
        counts: { train: 300, val: 100, test: 100 },
        perClass: { train: [60, 60, 60, 60, 60], val: [20, 20, 20, 20, 20], test: [20, 20, 20, 20, 20] },
      },
    });
    const b = testBridge({ 'dataset/split': () => made });
    const form = new SplitForm(b);
    form.val = 0.2;
    form.test = 0.2;
    form.seed = 3;
    expect(await form.submit('a'.repeat(64))).toEqual(made);
    expect(b.callsTo('dataset/split').at(-1)).toEqual({
      id: 'a'.repeat(64),
      val: 0.2,
      test: 0.2,
      seed: 3,
      keepTest: false,
    });
    expect(form.resultCounts).toEqual({ train: 300, val: 100, test: 100 });
    form.keepTest = true;
    await form.submit('a'.repeat(64));
    expect(b.callsTo('dataset/split').at(-1)).toEqual({
      id: 'a'.repeat(64),
      val: 0.2,
      seed: 3,
      keepTest: true,
    });
  });

  it('checks the fields as the core does before sending, with its messages', async () => {
    const b = testBridge({ 'dataset/split': () => dataset() });
    const form = new SplitForm(b);
    form.val = 0.6;
    form.test = 0.5;
    expect(await form.submit('a'.repeat(64))).toBeUndefined();
    expect(form.issuesFor('test')).toEqual(['val + test must be below 1, got 0.6 + 0.5']);
    form.val = 1;
    form.seed = null;
    await form.submit('a'.repeat(64));
    expect(form.issuesFor('val')).toEqual(['must be at least 0 and below 1']);
    expect(form.issuesFor('seed')).toEqual(['must be a whole number, 0 or more']);
    form.keepTest = true;
    form.val = 0.95;
    form.seed = 1;
    expect(await form.submit('a'.repeat(64))).toEqual(dataset());
    expect(form.issues).toEqual([]);
    expect(b.callsTo('dataset/split')).toHaveLength(1);
    // keepTest: val alone is checked (0.95 < 1), and test is left to the core.
    expect(b.callsTo('dataset/split')[0]).toEqual({ id: 'a'.repeat(64), val: 0.95, seed: 1, keepTest: true });
  });

  it('shows what the core still refuses under its fields', async () => {
    const b = testBridge({
      'dataset/split': () => {
        throw argsError([
          { field: 'val', message: 'Too big: expected number to be <1' },
          { field: 'name', message: 'Too big: expected string to have <=200 characters' },
        ]);
      },
    });
    const form = new SplitForm(b);
    expect(await form.submit('a'.repeat(64))).toBeUndefined();
    expect(form.issuesFor('val')).toEqual(['Too big: expected number to be <1']);
    expect(form.issuesFor('name')).toEqual(['Too big: expected string to have <=200 characters']);
    expect(form.error).toBeNull();
  });
});

describe('RunForm on an ONNX model', () => {
  const onnxModes = (numClasses: number): HandlerResult<'model/modes'> => ({
    modelId: 4,
    total: 25_287,
    numClasses,
    modes: [
      {
        mode: { kind: 'onnx', trainable: ['fc2.weight', 'fc2.bias'] },
        trainable: 165,
        fraction: 165 / 25_287,
      },
    ],
    onnx: {
      initializers: [
        { name: 'flat.shape', shape: [2], dtype: 'INT64', size: 2, trainable: false, head: false },
        { name: 'fc1.weight', shape: [32, 784], dtype: 'FLOAT', size: 25_088, trainable: true, head: false },
        { name: 'fc1.bias', shape: [32], dtype: 'FLOAT', size: 32, trainable: true, head: false },
        { name: 'fc2.weight', shape: [5, 32], dtype: 'FLOAT', size: 160, trainable: true, head: true },
        { name: 'fc2.bias', shape: [5], dtype: 'FLOAT', size: 5, trainable: true, head: true },
      ],
      defaultTrainable: ['fc2.weight', 'fc2.bias'],
      outputs: 5,
      newHead: false,
    },
  });

  it('checks the default set, allows LR for it only, and counts the chosen parameters', async () => {
    const b = testBridge({
      'dataset/list': () => [dataset()],
      'model/list': () => [model({ id: 4, kind: 'onnx' })],
      'run/presets': () => [],
      'system/info': () => {
        throw new Error('offline');
      },
      'model/modes': () => onnxModes(5),
    });
    const form = new RunForm(b);
    await form.load();
    await form.loadModeCounts();
    expect(form.modeKind).toBe('onnx');
    expect(form.onnxTrainable).toEqual(['fc2.weight', 'fc2.bias']);
    expect(form.onnxHeadOnly).toBe(true);
    expect(form.lrAllowed).toBe(true);
    expect(form.trainableParams).toBe(165);
    expect(form.spec.mode).toEqual({ kind: 'onnx', trainable: ['fc2.weight', 'fc2.bias'] });
    form.toggleInitializer('fc1.bias');
    // θ order follows the model's initializers, whatever the click order.
    expect(form.onnxTrainable).toEqual(['fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(form.lrAllowed).toBe(false);
    expect(form.trainableParams).toBe(32 + 160 + 5);
    form.toggleInitializer('fc2.bias');
    form.toggleInitializer('fc2.weight');
    expect(form.spec.mode).toEqual({ kind: 'onnx', trainable: ['fc1.bias'] });
    form.resetTrainable();
    expect(form.onnxHeadOnly).toBe(true);
    // Back to a ViT model: the ViT mode picker's default again.
    b.handle({ 'model/modes': () => ({ modelId: 1, total: 100, numClasses: 5, modes: [] }) });
    form.modelId = 1;
    await form.loadModeCounts();
    expect(form.modeKind).toBe('head');
    expect(form.onnx).toBeNull();
  });

  it('keeps the ONNX mode under a head preset (its logits layer), and counts another set as a change', async () => {
    const b = testBridge({
      'dataset/list': () => [dataset()],
      'model/list': () => [model({ id: 4, kind: 'onnx' })],
      'run/presets': () => [
        {
          name: 'head-lr',
          description: 'head, LR',
          spec: { mode: { kind: 'head' }, train: { estimator: 'lr', budgetPerSample: 10, lrSigma: 0.1 } },
        },
        {
          name: 'lora-spsa',
          description: 'LoRA, SPSA',
          spec: {
            mode: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'] },
            train: { estimator: 'spsa', budgetPerSample: 10, spsaEps: 1e-3 },
          },
        },
      ],
      'model/modes': () => onnxModes(5),
    });
    const form = new RunForm(b);
    await form.load();
    await form.loadModeCounts();
    form.toggleInitializer('fc1.bias');
    // Chosen after the model: the mode picker is hidden, so the head preset means the logits layer.
    form.choosePreset('head-lr');
    expect(form.modeKind).toBe('onnx');
    expect(form.spec.mode).toEqual({ kind: 'onnx', trainable: ['fc2.weight', 'fc2.bias'] });
    expect(form.presetChanges).toEqual([]);
    expect(form.presetArg).toEqual({ preset: 'head-lr' });
    form.toggleInitializer('fc1.bias');
    expect(form.presetChanges).toEqual(['mode']);
    expect(form.presetArg).toEqual({});
    form.estimator = 'spsa';
    expect(form.presetChanges).toEqual(['mode', 'train.estimator']);
    // A LoRA preset cannot apply to an ONNX model: the mode stays, and the preset is shown as modified.
    form.choosePreset('lora-spsa');
    expect(form.modeKind).toBe('onnx');
    expect(form.presetChanges).toEqual(['mode.kind']);
    expect(form.presetArg).toEqual({});
  });
});
