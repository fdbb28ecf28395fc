// The `flops` binary for re-splitting a dataset, random sweeps and training an imported ONNX classifier, as a user
// runs them: `node bin/flops.js ...` on a fresh data folder (real SQLite file, real ORT, nothing of ours mocked).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { BUNDLED_DATASET_DIR } from '../../../app/bundled.ts';
import { randomPoints } from '../../../app/use-cases/sweeps.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import { Rng } from '../../../engine/rng.ts';
import { flopsCli } from './helpers.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'flops-cli6-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const { flops, flopsJson } = flopsCli(dataDir);

interface Version {
  id: string;
  splitCounts: { counts: Record<string, number> };
}

describe('flops datasets split, sweep --random, train on an .onnx model', () => {
  let demo: Version;

  it('re-splits an imported dataset into a new version, the same one twice', async () => {
    demo = (
      await flopsJson<{ dataset: Version }>('datasets', 'import', BUNDLED_DATASET_DIR, '--name', 'demo')
    ).dataset;
    expect(demo.splitCounts.counts).toEqual({ train: 1000, val: 0, test: 500 });
    const args = ['datasets', 'split', 'demo', '--val', '0.1', '--test', '0.2', '--seed', '3'];
    const a = await flopsJson<Version>(...args);
    // 300 images per class: 30 val, 60 test, 210 train.
    expect(a.splitCounts.counts).toEqual({ train: 1050, val: 150, test: 300 });
    const b = await flopsJson<Version>(
      'datasets',
      'split',
      demo.id.slice(0, 8),
      '--val',
      '0.1',
      '--test',
      '0.2',
      '--seed',
      '3',
    );
    expect(b.id).toBe(a.id);
    const list = await flopsJson<Version[]>('datasets', 'list');
    expect(list.map((v) => v.id).sort()).toEqual([demo.id, a.id].sort());
    const bad = await flops('datasets', 'split', demo.id, '--val', '0.7', '--test', '0.4');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/test: val \+ test must be below 1, got 0\.7 \+ 0\.4/);
  });

  it('runs a random sweep whose trials are the sweep seed’s', async () => {
    const r = await flopsJson<{
      sweep: { kind: string; points: unknown[] };
      comparison: { runs: { status: string }[] };
    }>(
      'sweep',
      '--dataset',
      demo.id,
      '--preset',
      'head-spsa',
      '--k-shot',
      '8',
      '--batch-size',
      '8',
      '--max-steps',
      '2',
      '--eval-split',
      'test',
      '--random',
      '3',
      '--lr-range',
      '1e-3:1e-1',
      '--budget-range',
      '2:6',
      '--allocators',
      'uniform,flops',
      '--sweep-seed',
      '11',
    );
    expect(r.sweep.kind).toBe('random');
    expect(r.sweep.points).toEqual(
      randomPoints({
        trials: 3,
        sweepSeed: 11,
        lr: { min: 1e-3, max: 1e-1 },
        budget: { min: 2, max: 6 },
        allocator: ['uniform', 'flops'],
      }),
    );
    expect(r.comparison.runs.map((x) => x.status)).toEqual(['completed', 'completed', 'completed']);
    const usage = await flops('sweep', '--lr-range', '1e-3:1e-1');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--lr-range need --random/);
    const range = await flops('sweep', '--random', '2', '--lr-range', '1e-1:1e-3');
    expect(range.code).toBe(1);
    expect(range.stderr).toMatch(/random\.lr\.max: min must not be above max/);
  });

  it('trains an imported .onnx classifier and names a bad initializer', async () => {
    const rng = new Rng(2);
    const g = new GraphBuilder('linear', 17);
    const flat = g.op('Flatten', [g.input('image', 'float32', ['batch', 1, 28, 28])], { axis: 1 });
    const w = Float32Array.from({ length: 5 * 784 }, () => (2 * rng.nextFloat() - 1) * 0.05);
    g.node(
      'Gemm',
      [flat, g.initializer('w', w, [5, 784]), g.initializer('b', new Float32Array(5), [5])],
      ['logits'],
      {
        transB: 1,
      },
    );
    g.output('logits', 'float32', ['batch', 5]);
    const file = join(dataDir, 'linear.onnx');
    writeFileSync(file, g.toBytes());
    const model = await flopsJson<{ id: number; kind: string }>('models', 'import', file);
    expect(model.kind).toBe('onnx');
    const common = ['--model', String(model.id), '--dataset', demo.id, '--eval-split', 'test'];
    const bad = await flops('train', ...common, '--trainable', 'w,nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/mode\.trainable\.1: no initializer 'nope'/);
    const run = await flopsJson<{
      run: { status: string };
      stats: { steps: number; evalAccuracy: number; initialAccuracy: number };
    }>('train', ...common, '--preset', 'head-lr', '--epochs', '2');
    expect(run.run.status).toBe('completed');
    expect(run.stats.steps).toBe(62);
    console.log(`[cli onnx linear head-lr] ${run.stats.initialAccuracy} → ${run.stats.evalAccuracy}`);
    expect(run.stats.evalAccuracy - run.stats.initialAccuracy).toBeGreaterThan(0.3);
  });
});
