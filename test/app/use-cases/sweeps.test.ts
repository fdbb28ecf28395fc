// Sweeps over a real workspace (SQLite file, bundled model and dataset): grid and random search expand into queued
// runs tagged with the sweep; random trials are a pure function of the sweep seed; bad fields are all named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentsError } from '../../../app/use-cases/validate.ts';
import { invokeHandler, toBridgeError } from '../../../app/use-cases/index.ts';
import { listRuns } from '../../../app/use-cases/runs.ts';
import { createSweep, previewSweep, randomPoints } from '../../../app/use-cases/sweeps.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(async () => {
  await ws.dispose();
});

const space = {
  trials: 4,
  sweepSeed: 7,
  lr: { min: 1e-4, max: 1e-1 },
  eps: { min: 1e-3, max: 1e-1 },
  budget: { min: 2, max: 16 },
  allocator: ['uniform', 'flops'] as ('uniform' | 'flops')[],
  seed: [0, 1, 2],
};

describe('random sweeps', () => {
  it('draws the same trials for the same sweep seed (exact values)', () => {
    const points = randomPoints(space);
    expect(points).toEqual([
      { lr: 0.08467, eps: 0.003617, budget: 13, allocator: 'uniform', seed: 2 },
      { lr: 0.03353, eps: 0.001472, budget: 6, allocator: 'flops', seed: 0 },
      { lr: 0.08564, eps: 0.007945, budget: 4, allocator: 'flops', seed: 2 },
      { lr: 0.02938, eps: 0.004601, budget: 10, allocator: 'uniform', seed: 0 },
    ]);
    expect(randomPoints(space)).toEqual(points);
    // Another sweep seed gives other trials; a longer sweep starts with the shorter one's trials.
    expect(randomPoints({ ...space, sweepSeed: 8 })[0]).not.toEqual(points[0]);
    expect(randomPoints({ ...space, trials: 10 }).slice(0, 4)).toEqual(points);
    // Dropping a dimension leaves the others' values where they were.
    const noEps = randomPoints({ ...space, eps: undefined });
    expect(noEps.map((p) => p.lr)).toEqual(points.map((p) => p.lr));
  });

  it('is log-uniform for rates and integer-uniform for budgets', () => {
    const points = randomPoints({
      trials: 3000,
      sweepSeed: 1,
      lr: { min: 1e-4, max: 1e-1 },
      budget: { min: 2, max: 4 },
    });
    const decades = [0, 0, 0];
    const budgets = [0, 0, 0];
    for (const p of points) {
      expect(p.lr).toBeGreaterThanOrEqual(1e-4);
      expect(p.lr).toBeLessThanOrEqual(1e-1);
      decades[Math.min(2, Math.floor(Math.log10(p.lr!) + 4))]! += 1;
      budgets[p.budget! - 2]! += 1;
    }
    // Each decade and each budget gets a third of 3000, within 3 standard deviations (~77).
    for (const n of [...decades, ...budgets]) expect(Math.abs(n - 1000)).toBeLessThan(80);
    expect(decades).toEqual([996, 1008, 996]);
    expect(budgets).toEqual([961, 1015, 1024]);
  });

  it('creates one queued run per trial, tagged with the sweep, with the drawn values in its config', async () => {
    const sweep = await createSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec({ estimator: 'spsa' }),
      name: 'rs7',
      start: false,
      random: space,
    });
    expect(sweep.kind).toBe('random');
    expect(sweep.tag).toBe('sweep:rs7');
    expect(sweep.points).toEqual(randomPoints(space));
    expect(sweep.runs.map((r) => r.status)).toEqual(['queued', 'queued', 'queued', 'queued']);
    expect(sweep.runs[0]!.name).toBe('rs7 #1 lr=0.08467 eps=0.003617 budget=13 allocator=uniform seed=2');
    const train = sweep.runs.map(
      (r) =>
        (
          r.resolvedConfig as {
            train: { optimizer: { lr: number }; spsaEps: number; budgetPerSample: number };
          }
        ).train,
    );
    // The base spec uses SPSA, so eps lands on spsaEps.
    expect(train.map((t) => [t.optimizer.lr, t.spsaEps, t.budgetPerSample])).toEqual([
      [0.08467, 0.003617, 13],
      [0.03353, 0.001472, 6],
      [0.08564, 0.007945, 4],
      [0.02938, 0.004601, 10],
    ]);
    expect(sweep.runs.map((r) => r.seed)).toEqual([2, 0, 2, 0]);
    const tagged = await listRuns(ws.ctx, { tag: 'sweep:rs7' });
    expect(tagged.map((r) => r.id).sort()).toEqual(sweep.runs.map((r) => r.id).sort());
  });

  it('names every bad field and creates nothing', async () => {
    const before = (await listRuns(ws.ctx, {})).length;
    const error = await createSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec(),
      start: false,
      random: {
        trials: 0,
        lr: { min: -1, max: 0.1 },
        eps: { min: 0.1, max: 0.01 },
        budget: { min: 2.5, max: 4 },
        allocator: ['sideways' as 'flops'],
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentsError);
    expect((error as InvalidArgumentsError).issues.map((i) => i.field)).toEqual([
      'random.trials',
      'random.lr.min',
      'random.eps.max',
      'random.budget.min',
      'random.allocator.0',
    ]);
    const empty = await createSweep(ws.ctx, { kind: 'random', base: ws.spec(), random: { trials: 3 } }).catch(
      (e: unknown) => e,
    );
    expect((empty as InvalidArgumentsError).issues).toEqual([
      { field: 'random', message: expect.stringMatching(/at least one of lr, eps/) as unknown as string },
    ]);
    expect((await listRuns(ws.ctx, {})).length).toBe(before);
  });

  it('refuses the whole sweep when one trial is invalid for the estimator, naming trial and field', async () => {
    const before = (await listRuns(ws.ctx, {})).length;
    // LR queries come in antithetic pairs, so the odd budget of trial 1 (13) is refused; eps lands on lrSigma.
    const error = await createSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec(),
      start: false,
      random: space,
    }).catch((e: unknown) => e);
    expect((error as { issues: { field: string }[] }).issues.map((i) => i.field)).toEqual([
      'runs[0] (lr=0.08467 eps=0.003617 budget=13 allocator=uniform seed=2).train.budgetPerSample',
    ]);
    expect((await listRuns(ws.ctx, {})).length).toBe(before);
  });

  it('still expands a grid given without a kind', async () => {
    const sweep = await createSweep(ws.ctx, {
      base: ws.spec(),
      name: 'g',
      start: false,
      grid: { lr: [0.01, 0.03], allocator: ['uniform', 'flops'] },
    });
    expect(sweep.kind).toBe('grid');
    expect(sweep.points).toEqual([
      { allocator: 'uniform', lr: 0.01 },
      { allocator: 'uniform', lr: 0.03 },
      { allocator: 'flops', lr: 0.01 },
      { allocator: 'flops', lr: 0.03 },
    ]);
  });
});

describe('sweep/preview', () => {
  it('lists exactly the trials and names sweep/create then creates, and creates nothing itself', async () => {
    const args = {
      kind: 'random' as const,
      base: ws.spec({ estimator: 'spsa' }),
      name: 'pv',
      start: false,
      random: space,
    };
    const before = (await listRuns(ws.ctx, {})).length;
    const preview = await previewSweep(ws.ctx, args);
    expect((await listRuns(ws.ctx, {})).length).toBe(before);
    expect(preview.issues).toEqual([]);
    expect(preview.tag).toBe('sweep:pv');
    expect(preview.points).toEqual(randomPoints(space));
    expect(preview.names[3]).toBe('pv #4 lr=0.02938 eps=0.004601 budget=10 allocator=uniform seed=0');
    const sweep = await createSweep(ws.ctx, args);
    expect(sweep.points).toEqual(preview.points);
    expect(sweep.runs.map((r) => r.name)).toEqual(preview.names);
  });

  it('returns what sweep/create would refuse as issues instead of throwing', async () => {
    const preview = await previewSweep(ws.ctx, { kind: 'random', base: ws.spec(), random: space });
    // LR (the base's estimator) needs even budgets: trial 1 draws 13.
    expect(preview.points).toHaveLength(4);
    expect(preview.issues.map((i) => i.field)).toEqual([
      'runs[0] (lr=0.08467 eps=0.003617 budget=13 allocator=uniform seed=2).train.budgetPerSample',
    ]);
    expect(preview.issues[0]!.message).not.toMatch(/^runs\[/);
  });

  it('answers bad arguments as issues by field too (no error, no points), like run/validate', async () => {
    const preview = await previewSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec(),
      random: { trials: 2, lr: { min: 0.1, max: 0.01 } },
    });
    expect(preview.points).toEqual([]);
    expect(preview.issues).toEqual([{ field: 'random.lr.max', message: 'min must not be above max' }]);
    const big = await previewSweep(ws.ctx, {
      base: ws.spec(),
      grid: {
        seed: Array.from({ length: 50 }, (_, i) => i),
        lr: Array.from({ length: 11 }, (_, i) => 0.001 * (i + 1)),
      },
    });
    expect(big.issues).toEqual([{ field: 'grid', message: '550 runs; at most 500' }]);
  });
});

describe('bad input', () => {
  const runCount = async () => (await listRuns(ws.ctx, {})).length;
  const random = (r: Record<string, unknown>) =>
    ({ kind: 'random', base: ws.spec(), start: false, random: r }) as unknown as Parameters<
      typeof createSweep
    >[1];
  const fails = async (args: unknown) => {
    const error = await invokeHandler(ws.ctx, 'sweep/create', args).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentsError);
    return toBridgeError(error);
  };

  it('sweep/create: trials 0, 10^6 and 1.5 are refused on random.trials before anything is drawn', async () => {
    const before = await runCount();
    for (const trials of [0, 1e6, 1.5, -3]) {
      const data = await fails(random({ trials, lr: [0.01] }));
      expect(data.code).toBe('ARGS_INVALID');
      expect(data.issues?.map((i) => i.field)).toEqual(['random.trials']);
    }
    expect((await fails(random({ trials: 1e6, lr: [0.01] }))).issues?.[0]?.message).toMatch(/500/);
    expect(await runCount()).toBe(before);
  });

  it('sweep/create: NaN and infinite ranges, min > max, log ranges through 0, unknown allocators and strings in a list are all named', async () => {
    const before = await runCount();
    const data = await fails(
      random({
        trials: 3,
        lr: { min: Number.NaN, max: 0.1 },
        eps: { min: 0, max: 0.1 },
        budget: { min: 8, max: 2 },
        allocator: ['flops', 'greedy'],
        seed: { min: 0, max: Number.POSITIVE_INFINITY },
      }),
    );
    expect(data.issues?.map((i) => i.field)).toEqual([
      'random.lr.min',
      'random.eps.min',
      'random.budget.max',
      'random.allocator.1',
      'random.seed.max',
    ]);
    expect(data.issues?.find((i) => i.field === 'random.budget.max')?.message).toBe(
      'min must not be above max',
    );
    expect(data.issues?.find((i) => i.field === 'random.eps.min')?.message).toMatch(/>0|positive|greater/i);
    // A list with a string in it: named at the list member.
    const listed = await fails(random({ trials: 2, lr: [0.01, '0.1'] }));
    expect(listed.issues?.map((i) => i.field)).toEqual(['random.lr.1']);
    expect(listed.issues?.[0]?.message).toMatch(/number/);
    // Neither a range nor a list: named on the dimension itself.
    const shapeless = await fails(random({ trials: 2, lr: 'fast', eps: null }));
    expect(shapeless.issues).toEqual([
      { field: 'random.lr', message: 'expected a range {min, max} or a list of values' },
      { field: 'random.eps', message: 'expected a range {min, max} or a list of values' },
    ]);
    // A log range through zero from below.
    const negative = await fails(random({ trials: 2, lr: { min: -1e-3, max: 1e-2 } }));
    expect(negative.issues?.map((i) => i.field)).toEqual(['random.lr.min']);
    expect(await runCount()).toBe(before);
  });

  it('sweep/create: an unknown kind, a missing base or a non-object argument is named, not thrown as a TypeError', async () => {
    const before = await runCount();
    expect((await fails({ kind: 'bayes', base: ws.spec(), random: { trials: 2 } })).issues?.[0]?.field).toBe(
      'kind',
    );
    expect(
      (await fails({ kind: 'random', random: { trials: 2, lr: [0.01] } })).issues?.map((i) => i.field),
    ).toEqual(['base']);
    expect((await fails([1, 2])).issues?.[0]?.field).toBe('(root)');
    expect((await fails('grid')).issues?.[0]?.field).toBe('(root)');
    expect(await runCount()).toBe(before);
  });

  it('sweep/create: a trial whose spec names a model that does not exist refuses the whole sweep', async () => {
    const before = await runCount();
    const error = await createSweep(ws.ctx, {
      kind: 'random',
      base: { ...ws.spec(), modelId: 9999 },
      start: false,
      random: { trials: 2, lr: [0.01, 0.02] },
    }).catch((e: unknown) => e);
    const data = toBridgeError(error);
    expect(data.code).toBe('CONFIG_INVALID');
    expect(data.issues?.map((i) => i.field)).toEqual([
      expect.stringMatching(/^runs\[0\] \(lr=0\.0\d\)\.modelId$/),
      expect.stringMatching(/^runs\[1\] \(lr=0\.0\d\)\.modelId$/),
    ]);
    expect(data.issues?.[0]?.message).toBe('model 9999 does not exist');
    expect(await runCount()).toBe(before);
  });
});

describe('bad input (sweep/preview)', () => {
  it('a nonexistent model: every trial named with modelId, nothing created, no throw', async () => {
    const before = (await listRuns(ws.ctx, {})).length;
    const preview = await previewSweep(ws.ctx, {
      kind: 'random',
      base: { ...ws.spec(), modelId: 424242 },
      name: 'ghost',
      random: { trials: 3, lr: { min: 1e-3, max: 1e-1 } },
    });
    expect(preview.points).toHaveLength(3);
    expect(preview.names[0]).toMatch(/^ghost #1 lr=/);
    expect(preview.issues).toHaveLength(3);
    for (const [i, issue] of preview.issues.entries()) {
      expect(issue.field).toMatch(new RegExp(`^runs\\[${i}\\] \\(lr=[0-9.e-]+\\)\\.modelId$`));
      expect(issue.message).toBe('model 424242 does not exist');
    }
    expect((await listRuns(ws.ctx, {})).length).toBe(before);
  });

  it('answers huge, empty, NaN and non-object arguments as issues, quickly and without points', async () => {
    const started = performance.now();
    const huge = await previewSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec(),
      random: { trials: 1e6, lr: [0.01] },
    });
    expect(huge.points).toEqual([]);
    expect(huge.issues.map((i) => i.field)).toEqual(['random.trials']);
    const nan = await previewSweep(ws.ctx, {
      kind: 'random',
      base: ws.spec(),
      random: { trials: 2, eps: { min: 0.1, max: Number.NaN } },
    });
    expect(nan.issues.map((i) => i.field)).toEqual(['random.eps.max']);
    const nothing = (await invokeHandler(ws.ctx, 'sweep/preview', null)) as { issues: { field: string }[] };
    expect(nothing.issues.map((i) => i.field)).toEqual(['base', 'grid']);
    const garbage = (await invokeHandler(ws.ctx, 'sweep/preview', 'x')) as { issues: { field: string }[] };
    expect(garbage.issues.map((i) => i.field)).toEqual(['(root)']);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
