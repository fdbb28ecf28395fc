import { describe, expect, it } from 'vitest';

import { costPreview } from '../../../renderer/src/lib/cost.ts';

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
});
