// engine/bench.ts: argument parsing, the section registry and runner, the JSON the CLI writes, and the pieces
// whose numbers the README quotes (exact MLP gradient, training-loop throughput, FLOPS-vs-uniform variance).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  BENCH_SECTIONS,
  benchEngineMlp,
  benchFlopsVariance,
  benchMlpTraining,
  compareAllocatorVariance,
  formatTable,
  main,
  median,
  mlpExactGradient,
  parseBenchArgs,
  registerBenchSection,
  runBench,
  selectSections,
  syntheticImages,
  type BenchSection,
} from '../../engine/bench.ts';
import { resolveTrainConfig } from '../../engine/config.ts';
import { buildMlp, buildMlpLr } from '../../engine/models/mlp.ts';
import { createOnnxClassifierProblem } from '../../engine/problems/onnx-classifier.ts';
import { randomData } from './models/reference.ts';
import { mlpBackprop } from './problems/mlp-backprop.ts';

const section = (name: string, values: Record<string, number> | Error): BenchSection => ({
  name,
  run: async () => {
    if (values instanceof Error) throw values;
    return values;
  },
});

describe('bench CLI pieces', () => {
  it('parses --json and repeatable, comma-separated --only', () => {
    expect(parseBenchArgs([])).toEqual({ only: [] });
    expect(parseBenchArgs(['--json', 'out.json', '--only', 'rng,engine.mlp', '--only=vit'])).toEqual({
      json: 'out.json',
      only: ['rng', 'engine.mlp', 'vit'],
    });
    expect(parseBenchArgs(['--json=x.json'])).toEqual({ json: 'x.json', only: [] });
    expect(() => parseBenchArgs(['--json'])).toThrow(/--json needs a value/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown argument --fast/);
  });

  it('selects sections by name or dotted prefix and names unknown ones', () => {
    const all = [section('rng', {}), section('engine.mlp', {}), section('engine.flops_variance', {})];
    expect(selectSections(all, []).map((s) => s.name)).toEqual([
      'rng',
      'engine.mlp',
      'engine.flops_variance',
    ]);
    expect(selectSections(all, ['engine']).map((s) => s.name)).toEqual([
      'engine.mlp',
      'engine.flops_variance',
    ]);
    expect(selectSections(all, ['engine.mlp']).map((s) => s.name)).toEqual(['engine.mlp']);
    expect(() => selectSections(all, ['eng'])).toThrow(/unknown bench section eng \(have: rng, engine.mlp/);
  });

  it('runs sections in order, reports a failing one and refuses a field reported twice', async () => {
    const lines: string[] = [];
    const run = await runBench(
      [section('a', { 'a.x': 1 }), section('b', new Error('no data')), section('c', { 'c.y': 2.5 })],
      (l) => lines.push(l),
    );
    expect(run.results).toEqual({ 'a.x': 1, 'c.y': 2.5 });
    expect(run.failures).toEqual({ b: 'no data' });
    expect(lines[1]).toBe('b: FAILED (no data)');
    const twice = await runBench([section('a', { x: 1 }), section('b', { x: 2 })]);
    expect(twice.failures.b).toMatch(/bench field x is reported twice/);
    expect(formatTable({ 'rng.gaussians_per_sec': 1.5e8, 'engine.mlp.overhead_ratio': 0.2 })).toMatch(
      /rng\.gaussians_per_sec\s+1\.500e\+8\n.*overhead_ratio\s+0\.2000/,
    );
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('registers sections once; the built-in ones are rng, engine.mlp, engine.flops_variance and vit', () => {
    expect(BENCH_SECTIONS.map((s) => s.name)).toEqual(['rng', 'engine.mlp', 'engine.flops_variance', 'vit']);
    expect(() => registerBenchSection(section('rng', {}))).toThrow(/already registered/);
  });

  it('writes one flat JSON object with dotted names (--only rng --json FILE)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flops-bench-'));
    try {
      const file = join(dir, 'bench.json');
      expect(await main(['--only', 'rng', '--json', file])).toBe(0);
      const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual(['rng.gaussians_per_sec']);
      expect(json['rng.gaussians_per_sec']).toBeGreaterThan(1e6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench measurements', () => {
  it('the exact MLP gradient matches the float64 backprop reference', () => {
    const dims = [7, 5, 4, 3];
    const model = buildMlp({ inDim: 7, hidden: [5, 4], numClasses: 3, seed: 9 });
    const theta = model.initParams().data;
    for (let j = 0; j < theta.length; j += 7) theta[j] = theta[j]! + 0.05;
    const { x, y } = randomData(11, 7, 3, 4);
    const ours = mlpExactGradient(theta, dims, x, y);
    const ref = mlpBackprop(theta, dims, x, y).grad;
    for (let j = 0; j < ref.length; j++) expect(ours[j]).toBeCloseTo(ref[j]!, 12);
    expect(() => mlpExactGradient(theta.subarray(1), dims, x, y)).toThrow(RangeError);
  });

  it('reports the engine.mlp fields; the overhead ratio is training over inference rows per second', async () => {
    const training = await benchMlpTraining({ batch: 16, stepsPerRound: 2, rounds: 2, warmupSteps: 1 });
    expect(training.training_rows_per_sec).toBeGreaterThan(0);
    expect(training.training_rows_per_sec_best).toBeGreaterThanOrEqual(training.training_rows_per_sec);
    const values = await benchEngineMlp({
      pairs: 1,
      inferenceRuns: 5,
      training: { stepsPerRound: 1, rounds: 1, warmupSteps: 1 },
    });
    for (const name of [
      'engine.mlp.inference_rows_per_sec',
      'engine.mlp.training_rows_per_sec',
      'engine.mlp.overhead_ratio',
      'engine.mlp.inference_rows_per_sec_batch256',
      'engine.mlp.training_rows_per_sec_batch256',
      'engine.mlp.overhead_ratio_batch256',
    ]) {
      expect(values[name]).toBeGreaterThan(0);
    }
    expect(values['engine.mlp.overhead_ratio']).toBeCloseTo(
      values['engine.mlp.training_rows_per_sec']! / values['engine.mlp.inference_rows_per_sec']!,
      10,
    );
    expect(values['engine.mlp.overhead_ratio_batch256']).toBeCloseTo(
      values['engine.mlp.training_rows_per_sec_batch256']! /
        values['engine.mlp.inference_rows_per_sec_batch256']!,
      10,
    );
  });

  it('compares FLOPS with uniform by the gradient error against the exact gradient', async () => {
    const opts = { inDim: 6, hidden: [8], numClasses: 3, seed: 5 };
    const data = randomData(64, 6, 3, 8);
    const problem = await createOnnxClassifierProblem({
      model: buildMlp(opts),
      lrModel: buildMlpLr(opts),
      train: data,
      val: data,
    });
    try {
      const config = resolveTrainConfig({
        estimator: 'lr',
        batchSize: 16,
        budgetPerSample: 6,
        allocator: { kind: 'flops' },
      });
      const theta = problem.params.data;
      const cmp = await compareAllocatorVariance({
        problem,
        config,
        theta,
        exactGradient: (ids) => {
          const x = new Float32Array(ids.length * 6);
          ids.forEach((id, r) => x.set(data.x.subarray(id * 6, id * 6 + 6), r * 6));
          return mlpExactGradient(
            theta,
            [6, 8, 3],
            x,
            Array.from(ids, (id) => data.y[id]!),
          );
        },
        batches: [
          Int32Array.from({ length: 16 }, (_, i) => i),
          Int32Array.from({ length: 16 }, (_, i) => 40 + i),
        ],
        repeats: 3,
      });
      expect(cmp.flops).toBeGreaterThan(0);
      expect(cmp.uniform).toBeGreaterThan(0);
      expect(cmp.ratio).toBeCloseTo(cmp.flops / cmp.uniform, 12);
      await expect(
        compareAllocatorVariance({
          problem,
          config: resolveTrainConfig({ estimator: 'lr', batchSize: 16, budgetPerSample: 6 }),
          theta,
          exactGradient: () => new Float64Array(theta.length),
          batches: [],
          repeats: 1,
        }),
      ).rejects.toThrow(/needs a FLOPS config/);
    } finally {
      await problem.release();
    }
  });

  it('has a synthetic stand-in for Fashion-MNIST: 784 pixels in [0, 1], 10 balanced classes, seeded', () => {
    const a = syntheticImages(40, 1);
    expect(a.x.length).toBe(40 * 784);
    expect(Math.min(...a.x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.x)).toBeLessThanOrEqual(1);
    expect(Array.from(a.y).filter((c) => c === 3).length).toBe(4);
    expect(syntheticImages(40, 1).x).toEqual(a.x);
    expect(syntheticImages(40, 2).x).not.toEqual(a.x);
  });

  it('reports engine.flops_variance_ratio.{spsa,lr} (tiny run: only the fields are checked here)', async () => {
    const values = await benchFlopsVariance({ trainSteps: 2, batches: 1, repeats: 1 });
    for (const name of ['engine.flops_variance_ratio.spsa', 'engine.flops_variance_ratio.lr']) {
      expect(values[name]).toBeGreaterThan(0);
      expect(Number.isFinite(values[name])).toBe(true);
    }
    expect([0, 1]).toContain(values['engine.flops_variance_ratio.synthetic_data']);
  });
});
