import { describe, expect, it } from 'vitest';

import {
  costPreview,
  pickThroughput,
  sweepCost,
  type MeasuredThroughput,
} from '../../../renderer/src/lib/cost.ts';

describe('costPreview', () => {
  it('counts SPSA queries as two forward rows plus one clean row per sample', () => {
    const c = costPreview({
      estimator: 'spsa',
      budgetPerSample: 10,
      batchSize: 32,
      epochs: 2,
      trainSize: 400,
    });
    expect(c.queriesPerStep).toBe(320);
    expect(c.estimatorRowsPerStep).toBe(640);
    expect(c.forwardRowsPerStep).toBe(672);
    expect(c.stepsPerEpoch).toBe(12); // ⌊400 / 32⌋: full batches only
    expect(c.queriesPerEpoch).toBe(3840);
    expect(c.forwardRowsPerEpoch).toBe(8064);
    expect(c.totalSteps).toBe(24);
    expect(c.totalForwardRows).toBe(24 * 672);
  });

  it('counts an LR query as one row', () => {
    const c = costPreview({ estimator: 'lr', budgetPerSample: 4, batchSize: 8, epochs: 1, trainSize: 80 });
    expect(c.forwardRowsPerStep).toBe(8 + 32);
  });

  it('stops at max steps', () => {
    const c = costPreview({
      estimator: 'es',
      budgetPerSample: 2,
      batchSize: 10,
      epochs: 5,
      maxSteps: 7,
      trainSize: 100,
    });
    expect(c.totalSteps).toBe(7);
    expect(c.notes.join(' ')).toMatch(/max steps/);
  });

  it('estimates the time from the measured throughput', () => {
    const c = costPreview({
      estimator: 'spsa',
      budgetPerSample: 1,
      batchSize: 10,
      epochs: 1,
      trainSize: 100,
      rowsPerSecond: 300,
    });
    // 10 steps × (10 + 20) rows = 300 rows at 300 rows/s
    expect(c.estimatedMs).toBeCloseTo(1000, 9);
  });

  it('says what is missing instead of inventing numbers', () => {
    const c = costPreview({ estimator: 'spsa', budgetPerSample: 10, batchSize: 64, epochs: 1 });
    expect(c.stepsPerEpoch).toBeNull();
    expect(c.estimatedMs).toBeNull();
    expect(c.notes.join(' ')).toMatch(/dataset/);
    const tooBig = costPreview({
      estimator: 'spsa',
      budgetPerSample: 10,
      batchSize: 64,
      epochs: 1,
      trainSize: 50,
    });
    expect(tooBig.stepsPerEpoch).toBeNull();
    expect(tooBig.notes.join(' ')).toMatch(/exceeds the 50/);
  });

  it('treats empty or invalid inputs as zero rather than NaN', () => {
    const c = costPreview({ estimator: 'spsa', budgetPerSample: Number.NaN, batchSize: 32, epochs: 1 });
    expect(c.queriesPerStep).toBe(0);
    expect(c.forwardRowsPerStep).toBe(32);
  });

  it('picks the measured rate of the same mode, preferring the same model, estimator and device', () => {
    const m = (over: Partial<MeasuredThroughput>): MeasuredThroughput => ({
      provider: 'cpu',
      modelId: 1,
      mode: 'head',
      estimator: 'lr',
      rowsPerSecond: 1000,
      runs: 1,
      ...over,
    });
    const measured = [
      m({ mode: 'lora', rowsPerSecond: 40 }),
      m({ modelId: 2, rowsPerSecond: 9000, runs: 3 }),
      m({ estimator: 'spsa', rowsPerSecond: 3000 }),
      m({ provider: 'webgpu', rowsPerSecond: 5000 }),
      m({ rowsPerSecond: 4000, runs: 2 }),
    ];
    const want = { provider: 'cpu', modelId: 1, mode: 'head', estimator: 'lr' };
    expect(pickThroughput(measured, want)).toEqual({
      rowsPerSecond: 4000,
      basis: '2 recent runs of this model, head mode, lr on cpu',
    });
    // Same model and estimator outrank the device; another model is the last resort within the mode.
    expect(pickThroughput(measured, { ...want, provider: 'dml' })?.rowsPerSecond).toBe(5000);
    expect(pickThroughput(measured, { ...want, modelId: 7, estimator: 'es' })?.rowsPerSecond).toBe(9000);
    expect(pickThroughput(measured, { ...want, modelId: 7, estimator: 'es' })?.basis).toMatch(
      /another model/,
    );
    expect(pickThroughput(measured, { ...want, mode: 'lora' })?.rowsPerSecond).toBe(40);
    // Never a rate of another mode: a head runs orders of magnitude faster than the full graph.
    expect(pickThroughput(measured, { ...want, mode: 'bitfit' })).toBeNull();
    expect(pickThroughput([m({ rowsPerSecond: 0 })], want)).toBeNull();
  });
});

describe('sweepCost', () => {
  // B = 10 samples, 100 training images, 1 epoch: 10 steps per trial; SPSA, so a step is 10 + 2·10·n̄ rows.
  const base = {
    estimator: 'spsa' as const,
    budgetPerSample: 6,
    batchSize: 10,
    epochs: 1,
    trainSize: 100,
    rowsPerSecond: 100,
  };
  const points = [{ budget: 2 }, { budget: 4 }, { budget: 10 }];

  it('counts each previewed trial with its own budget n̄, and sums them', () => {
    const c = sweepCost(base, points);
    expect(c.trials).toEqual([
      // n̄ = 2: 20 queries and 50 rows a step, 10 steps, 500 rows at 100 rows/s
      {
        budgetPerSample: 2,
        queriesPerStep: 20,
        forwardRowsPerStep: 50,
        totalSteps: 10,
        totalQueries: 200,
        totalForwardRows: 500,
        estimatedMs: 5000,
      },
      {
        budgetPerSample: 4,
        queriesPerStep: 40,
        forwardRowsPerStep: 90,
        totalSteps: 10,
        totalQueries: 400,
        totalForwardRows: 900,
        estimatedMs: 9000,
      },
      {
        budgetPerSample: 10,
        queriesPerStep: 100,
        forwardRowsPerStep: 210,
        totalSteps: 10,
        totalQueries: 1000,
        totalForwardRows: 2100,
        estimatedMs: 21_000,
      },
    ]);
    expect(c.totalSteps).toBe(30);
    expect(c.totalQueries).toBe(1600);
    expect(c.totalForwardRows).toBe(3500);
    // Not 3 × one run at the form's n̄ = 6 (3 × 130 rows × 10 steps = 3900 rows).
    expect(c.estimatedMs).toBe(35_000);
    // No concurrency known: one at a time, the wall time is the sum.
    expect(c.concurrency).toBe(1);
    expect(c.parallelMs).toBeNull();
  });

  it('keeps the form’s budget for a trial that does not sweep it', () => {
    const c = sweepCost(base, [{}, { budget: 2 }]);
    expect(c.trials.map((t) => t.budgetPerSample)).toEqual([6, 2]);
    expect(c.totalQueries).toBe(600 + 200);
  });

  it('with runs at once, also gives the wall time if each kept its rate (trials start in order)', () => {
    // Two slots: trial 1 (5 s) and 2 (9 s) start together; 3 (21 s) takes the first free slot at 5 s → 26 s.
    const c = sweepCost(base, points, 2);
    expect(c.concurrency).toBe(2);
    expect(c.parallelMs).toBe(26_000);
    expect(c.estimatedMs).toBe(35_000);
    // More slots than trials: the longest trial.
    expect(sweepCost(base, points, 8).parallelMs).toBe(21_000);
    expect(sweepCost(base, points, 1).parallelMs).toBeNull();
  });

  it('has no time without a measured rate, and no totals without a dataset', () => {
    const noRate = sweepCost({ ...base, rowsPerSecond: null }, points, 2);
    expect(noRate.totalQueries).toBe(1600);
    expect(noRate.estimatedMs).toBeNull();
    expect(noRate.parallelMs).toBeNull();
    const noData = sweepCost({ ...base, trainSize: null }, points);
    expect(noData.trials[0]?.queriesPerStep).toBe(20);
    expect(noData.totalQueries).toBeNull();
    expect(noData.totalForwardRows).toBeNull();
    expect(sweepCost(base, []).totalQueries).toBeNull();
  });
});
