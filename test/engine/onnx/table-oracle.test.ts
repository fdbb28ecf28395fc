// The native 'table'-direction fast path of the ONNX classifier's oracle: the Scan graph variant must give the
// losses `losses()` gives at θ + ε·table[o : o + d] formed in JS, for any offsets, signs, rows and chunking, and
// SPSA through it must match the JS fallback and stay deterministic. The gradient variant (combine in the Scan)
// must give the pair variant's losses, SPSA's scalars to the float32 rounding, and exactly the ĝ update that
// accumulateTableWindows makes from its scalars.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { accumulateTableWindows, noiseTable, noiseTableSize } from '../../../engine/estimators/directions.ts';
import { estimateSpsa, replaySpsaUpdate } from '../../../engine/estimators/spsa.ts';
import { buildMlp, type MlpOptions } from '../../../engine/models/mlp.ts';
import { resolveTrainConfig } from '../../../engine/config.ts';
import { buildTablePairGraph } from '../../../engine/onnx/table-graph.ts';
import { OnnxTableLossOracle } from '../../../engine/onnx/table-oracle.ts';
import { train, type Checkpoint } from '../../../engine/train.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import onnxProto from 'onnx-proto';

import { Rng } from '../../../engine/rng.ts';
import { randomData } from '../models/reference.ts';

const OPTS: MlpOptions = { inDim: 6, hidden: [9, 5], numClasses: 3, seed: 4 };
const trainSet = randomData(40, 6, 3, 1);
const valSet = randomData(10, 6, 3, 2);

let problem: OnnxClassifierProblem;
let chunked: OnnxClassifierProblem;
/** First layer frozen: the first trainable Gemm reads a θ-free activation, not the graph input. */
let frozen: OnnxClassifierProblem;
beforeAll(async () => {
  const common = {
    model: buildMlp(OPTS),
    train: { x: trainSet.x, y: Int32Array.from(trainSet.y, Number) },
    val: valSet,
    intraOpNumThreads: 1,
  };
  problem = await createOnnxClassifierProblem(common);
  chunked = await createOnnxClassifierProblem({ ...common, maxRowsPerRun: 3 });
  frozen = await createOnnxClassifierProblem({ ...common, model: buildMlp({ ...OPTS, frozenLayers: 1 }) });
  const ids = Int32Array.from({ length: 8 }, (_, i) => 3 * i + 1);
  await problem.loadBatch(ids);
  await chunked.loadBatch(ids);
  await frozen.loadBatch(ids);
});
afterAll(async () => {
  await problem.release();
  await chunked.release();
  await frozen.release();
});

/** Losses at θ + eps·window formed in JS, through the plain oracle. */
async function jsLosses(p: OnnxClassifierProblem, eps: number, offset: number, rows: Int32Array) {
  const theta = p.params.data;
  const d = theta.length;
  const table = noiseTable(noiseTableSize(d));
  const w = Float32Array.from(theta, (t, j) => t + eps * table[offset + j]!);
  const out = new Float32Array(rows.length);
  await p.oracle.losses(w, rows, out);
  return out;
}

/** lossesAlongDirections on two row sets (one with a repeat) matches jsLosses within 1e-5, direction by direction. */
async function expectLossesAlongDirections(p: OnnxClassifierProblem, eps: Float32Array, offsets: number[]) {
  for (const rows of [Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), Int32Array.from([5, 2, 2, 7, 0])]) {
    const out = new Float32Array(eps.length * rows.length);
    await p.oracle.lossesAlongDirections(p.params.data, eps, offsets, rows, out);
    for (let g = 0; g < eps.length; g++) {
      const expected = await jsLosses(p, eps[g]!, offsets[g]!, rows);
      const got = out.subarray(g * rows.length, (g + 1) * rows.length);
      for (let r = 0; r < rows.length; r++) expect(Math.abs(got[r]! - expected[r]!)).toBeLessThan(1e-5);
    }
  }
}

describe('OnnxTableLossOracle.lossesAlongDirections', () => {
  it('matches losses() at θ + ε·table window within 1e-5, per group, for any rows and chunking', async () => {
    const d = problem.params.size;
    const t = noiseTableSize(d);
    const offsets = [0, 12345, t - d, 12345];
    const eps = Float32Array.from([1e-2, -1e-2, 0.3, 0]);
    for (const p of [problem, chunked]) {
      await expectLossesAlongDirections(p, eps, offsets);
    }
  });

  it('refuses offsets outside the table and mismatched sizes', async () => {
    const d = problem.params.size;
    const rows = Int32Array.from([0]);
    const out = new Float32Array(4);
    const theta = problem.params.data;
    const eps = Float32Array.from([1]);
    await expect(problem.oracle.lossesAlongDirections(theta, eps, [-1], rows, out)).rejects.toThrow(
      /offset -1/,
    );
    await expect(
      problem.oracle.lossesAlongDirections(theta, eps, [noiseTableSize(d) - d + 1], rows, out),
    ).rejects.toThrow(/does not leave/);
    await expect(problem.oracle.lossesAlongDirections(theta, eps, [0, 1], rows, out)).rejects.toThrow(
      /2 offsets for 1 eps/,
    );
    await expect(
      problem.oracle.lossesAlongDirections(theta.subarray(1), eps, [0], rows, out),
    ).rejects.toThrow(/theta has/);
  });

  it("makes SPSA with 'table' directions match the JS fallback, deterministic and replayable", async () => {
    const theta = problem.params.data;
    const counts = Int32Array.from([4, 1, 6, 2, 4, 3, 5, 1]);
    const fallback = {
      batchSize: problem.oracle.batchSize,
      losses: (t: Float32Array, r: Int32Array, o: Float32Array) => problem.oracle.losses(t, r, o),
    };
    const opts = { eps: 1e-2, directions: 'table' as const };
    const slow = await estimateSpsa(fallback, theta, counts, 31, opts);
    const fast = await estimateSpsa(problem.oracle, theta, counts, 31, opts);
    expect(fast.rows).toBe(slow.rows);
    for (let k = 0; k < slow.scalars.length; k++) {
      expect(Math.abs(fast.scalars[k]! - slow.scalars[k]!)).toBeLessThan(
        1e-3 * (1 + Math.abs(slow.scalars[k]!)),
      );
    }
    const again = await estimateSpsa(problem.oracle, theta, counts, 31, opts);
    expect(new Uint32Array(again.grad.buffer)).toEqual(new Uint32Array(fast.grad.buffer));
    const replay = replaySpsaUpdate(fast.scalars, 31, theta.length, 'table');
    expect(new Uint32Array(replay.buffer)).toEqual(new Uint32Array(fast.grad.buffer));
  });

  it('runs central-difference pairs through the pair variant, matching losses() within 1e-5', async () => {
    for (const p of [problem, chunked, frozen]) {
      const d = p.params.size;
      const t = noiseTableSize(d);
      // Pairs (a, −a) at one offset each, as SPSA sends them: the pair session serves them.
      const offsets = [7, 7, t - d, t - d, 999, 999];
      const eps = Float32Array.from([1e-2, -1e-2, -0.3, 0.3, 0, -0]);
      expect(OnnxTableLossOracle.isPairs(eps, offsets)).toBe(true);
      await expectLossesAlongDirections(p, eps, offsets);
      expect(await p.oracle.pairSession()).toBeDefined();
    }
  });

  it('tells pairs from other groups', () => {
    expect(OnnxTableLossOracle.isPairs(Float32Array.from([1, -1, 2, -2]), [3, 3, 4, 4])).toBe(true);
    expect(OnnxTableLossOracle.isPairs(Float32Array.from([1, -1, 2]), [3, 3, 4])).toBe(false);
    expect(OnnxTableLossOracle.isPairs(Float32Array.from([1, 1]), [3, 3])).toBe(false);
    expect(OnnxTableLossOracle.isPairs(Float32Array.from([1, -1]), [3, 4])).toBe(false);
  });

  it('computes a θ-free-input Gemm once per run and once per direction for both signs', () => {
    // MLP 6-9-5-3: three Gemms. The input layer is linear in θ with a θ-free input, so the pair variant runs
    // Gemm(x, W0, b0) once outside the Scan and Gemm(x, Z0, z_b0) once per direction; the two later layers
    // run once per sign. The flat variant would run all three twice per direction.
    const model = buildMlp(OPTS);
    const d = problem.params.size;
    const bytes = buildTablePairGraph(model.bytes, problem.params, noiseTable(noiseTableSize(d)), 'loss')!;
    const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
    const gemms = (nodes: onnxProto.onnx.INodeProto[]) => nodes.filter((n) => n.opType === 'Gemm').length;
    const scan = graph.node!.find((n) => n.opType === 'Scan')!;
    const body = scan.attribute!.find((a) => a.name === 'body')!.g!;
    expect(gemms(graph.node!)).toBe(1);
    expect(gemms(body.node!)).toBe(1 + 2 * 2);
  });

  it('trains through the pair variant deterministically and resumes bit-identically (FLOPS counts)', async () => {
    const cfg = resolveTrainConfig({
      estimator: 'spsa',
      directions: 'table',
      batchSize: 8,
      budgetPerSample: 3,
      epochs: 2, // 5 steps per epoch on the 40 training rows
      seed: 3,
      spsaEps: 1e-2,
      allocator: { kind: 'flops', warmupSteps: 2 },
    });
    const whole = await train(problem, cfg);
    const again = await train(problem, cfg);
    expect(Buffer.from(again.theta.buffer).equals(Buffer.from(whole.theta.buffer))).toBe(true);
    expect(Buffer.from(whole.theta.buffer).equals(Buffer.from(problem.params.data.buffer))).toBe(false);
    const controller = new AbortController();
    const first = await train(problem, cfg, {
      signal: controller.signal,
      onEvent: (e) => void (e.type === 'step' && e.step === 7 && controller.abort('pause')),
    });
    expect(first.status).toBe('paused');
    const saved: Checkpoint = structuredClone(first.checkpoint);
    const rest = await train(problem, cfg, { resumeFrom: saved });
    expect(rest.status).toBe('completed');
    expect(Buffer.from(rest.theta.buffer).equals(Buffer.from(whole.theta.buffer))).toBe(true);
  });

  it('forms the scalars and ĝ in the graph: same losses, scalars within an ulp of JS, ĝ bit for bit', async () => {
    for (const p of [problem, frozen]) {
      const d = p.params.size;
      const t = noiseTableSize(d);
      const table = noiseTable(t);
      const theta = p.params.data;
      const offsets = [7, t - d, 999, 31337];
      const counts = Int32Array.from([4, 1, 6, 2, 4, 3, 5, 1]);
      const eps = 1e-2;
      for (const rows of [Int32Array.from([2, 6, 0, 4, 5, 3, 7, 1]), Int32Array.from([5, 2, 7, 0])]) {
        const n = rows.length;
        const k = offsets.length;
        // ĝ continues an accumulation (a previous group's directions), here an arbitrary start.
        const start = new Float32Array(d);
        new Rng(3).fillGaussian(start);
        const grad = start.slice();
        const losses = new Float32Array(2 * k * n);
        const scalars = new Float32Array(k);
        const served = await p.oracle.gradientAlongDirections({
          theta,
          eps,
          offsets,
          rows,
          counts,
          grad,
          losses,
          scalars,
        });
        expect(served).toBe(true);
        const pairEps = Float32Array.from(offsets.flatMap(() => [eps, -eps]));
        const pairLosses = new Float32Array(2 * k * n);
        await p.oracle.lossesAlongDirections(
          theta,
          pairEps,
          offsets.flatMap((o) => [o, o]),
          rows,
          pairLosses,
        );
        expect(losses).toEqual(pairLosses);
        for (let q = 0; q < k; q++) {
          let s = 0;
          for (let r = 0; r < n; r++) {
            const delta = (losses[2 * q * n + r]! - losses[(2 * q + 1) * n + r]!) / (2 * eps);
            s += delta / counts[rows[r]!]!;
          }
          s /= p.oracle.batchSize;
          // Double inside, one rounding to float32: only the order of the row sum may differ.
          expect(Math.abs(scalars[q]! - s)).toBeLessThanOrEqual(Math.abs(s) * 2 ** -23);
        }
        const expected = start.slice();
        accumulateTableWindows(expected, table, offsets, scalars);
        expect(Buffer.from(grad.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      }
    }
  });

  it('declines, writing nothing, when the rows need more than one run', async () => {
    const d = chunked.params.size;
    const grad = new Float32Array(d).fill(1);
    const losses = new Float32Array(2 * 5);
    const scalars = new Float32Array(1);
    const request = {
      theta: chunked.params.data,
      eps: 1e-2,
      offsets: [5],
      counts: new Int32Array(8).fill(1),
      grad,
      losses,
      scalars,
    };
    expect(
      await chunked.oracle.gradientAlongDirections({ ...request, rows: Int32Array.from([0, 1, 2, 3, 4]) }),
    ).toBe(false);
    expect(grad.every((v) => v === 1) && losses.every((v) => v === 0) && scalars[0] === 0).toBe(true);
    expect(
      await chunked.oracle.gradientAlongDirections({ ...request, rows: Int32Array.from([0, 1, 2]) }),
    ).toBe(true);
    await expect(
      problem.oracle.gradientAlongDirections({ ...request, rows: Int32Array.from([0]), offsets: [-1] }),
    ).rejects.toThrow(/offset -1/);
  });

  it('makes SPSA through the gradient variant agree with the pair variant and the replay', async () => {
    const theta = problem.params.data;
    const counts = Int32Array.from([4, 1, 20, 2, 4, 3, 5, 1]);
    // The pair variant without the fused combine: ĝ formed in JS from its losses.
    const pairsOnly = {
      batchSize: problem.oracle.batchSize,
      losses: (t: Float32Array, r: Int32Array, o: Float32Array) => problem.oracle.losses(t, r, o),
      lossesAlongDirections: problem.oracle.lossesAlongDirections.bind(problem.oracle),
    };
    const opts = { eps: 1e-2, directions: 'table' as const };
    for (const seed of [31, 32, 33]) {
      const js = await estimateSpsa(pairsOnly, theta, counts, seed, opts);
      const fused = await estimateSpsa(problem.oracle, theta, counts, seed, opts);
      // Same losses, so the allocator's inputs are identical; scalars agree to the float32 rounding.
      expect(fused.varianceEstimates).toEqual(js.varianceEstimates);
      for (let k = 0; k < js.scalars.length; k++) {
        expect(Math.abs(fused.scalars[k]! - js.scalars[k]!)).toBeLessThanOrEqual(
          Math.abs(js.scalars[k]!) * 2 ** -23,
        );
      }
      const replay = replaySpsaUpdate(fused.scalars, seed, theta.length, 'table');
      expect(Buffer.from(replay.buffer).equals(Buffer.from(fused.grad.buffer))).toBe(true);
      const again = await estimateSpsa(problem.oracle, theta, counts, seed, opts);
      expect(Buffer.from(again.grad.buffer).equals(Buffer.from(fused.grad.buffer))).toBe(true);
      expect(again.scalars).toEqual(fused.scalars);
    }
  });
});
