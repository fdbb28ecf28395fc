import { describe, expect, it } from 'vitest';

import { CompareState, joinCsv } from '../../../renderer/src/lib/state/compare.svelte.ts';
import { testBridge } from '../bridge.ts';

describe('CompareState', () => {
  it('joins per-run CSVs under one header with a run_id column', () => {
    expect(
      joinCsv([
        { runId: 1, text: 'step,loss\n1,2\n2,1\n' },
        { runId: 2, text: 'step,loss\r\n1,3\r\n' },
      ]),
    ).toBe('run_id,step,loss\n1,1,2\n1,2,1\n2,1,3\n');
    expect(joinCsv([])).toBe('');
  });

  it('loads the comparison and curves, groups seeds and exports CSV', async () => {
    const row = (id: number, seed: number) => ({
      id,
      name: `r${id}`,
      status: 'completed' as const,
      mode: 'head',
      estimator: 'spsa',
      allocator: 'flops',
      budgetPerSample: 10,
      lr: 0.01,
      eps: 0.001,
      seed,
      steps: 3,
      queries: 10,
      forwardRows: 20,
      lastLoss: 1,
      wallMs: 5,
      evalAccuracy: 0.5,
      evalLoss: 1,
      bestEvalAccuracy: 0.5,
      initialAccuracy: 0.1,
      meanVarianceEstimate: 0.2,
    });
    const bridge = testBridge({
      'run/compare': () => ({
        runs: [row(1, 0), row(2, 1), row(3, 0)],
        diff: [
          { key: 'train.seed', values: [0, 1, 0] },
          { key: 'train.allocator.kind', values: ['flops', 'flops', 'uniform'] },
        ],
      }),
      'run/metrics': (a) => ({
        x: a.x ?? 'step',
        series: a.runIds.map((runId) => ({
          runId,
          metric: 'trainLoss' as const,
          level: 0,
          width: 1,
          steps: [1, 2],
          x: [1, 2],
          y: [runId, runId],
        })),
        evaluations: [],
      }),
      'run/export': (a) => ({
        filename: `run-${a.id}.csv`,
        mimeType: 'text/csv',
        text: `step,loss\n1,${a.id}\n`,
      }),
    });
    const compare = new CompareState(bridge);
    await compare.load([1, 2, 3]);
    expect(compare.groups).toEqual([[1, 2], [3]]);
    expect(compare.seedSets).toEqual([[1, 2]]);
    expect(compare.curves[2]?.y).toEqual([2, 2]);
    await compare.setXAxis('wall');
    expect(bridge.callsTo('run/metrics').at(-1)).toMatchObject({ x: 'wall', runIds: [1, 2, 3] });
    const file = await compare.exportCsv();
    expect(file).toEqual({ filename: 'compare-1-2-3.csv', text: 'run_id,step,loss\n1,1,1\n2,1,2\n3,1,3\n' });
    expect(bridge.callsTo('run/export')).toEqual([
      { id: 1, format: 'csv' },
      { id: 2, format: 'csv' },
      { id: 3, format: 'csv' },
    ]);
  });
});
