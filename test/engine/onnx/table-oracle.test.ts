// The native 'table'-direction fast path of the ONNX classifier's oracle: the Scan graph variant must give the
// losses `losses()` gives at θ + ε·table[o : o + d] formed in JS, for any offsets, signs, rows and chunking, and
// SPSA through it must match the JS fallback and stay deterministic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { noiseTable, noiseTableSize } from '../../../engine/estimators/directions.ts';
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

describe('OnnxTableLossOracle.lossesAlongDirections', () => {
  it('matches losses() at θ + ε·table window within 1e-5, per group, for any rows and chunking', async () => {
    const d = problem.params.size;
    const t = noiseTableSize(d);
    const offsets = [0, 12345, t - d, 12345];
    const eps = Float32Array.from([1e-2, -1e-2, 0.3, 0]);
    for (const p of [problem, chunked]) {
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
      for (const rows of [Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), Int32Array.from([5, 2, 2, 7, 0])]) {
        const out = new Float32Array(eps.length * rows.length);
        await p.oracle.lossesAlongDirections(p.params.data, eps, offsets, rows, out);
        for (let g = 0; g < eps.length; g++) {
          const expected = await jsLosses(p, eps[g]!, offsets[g]!, rows);
          const got = out.subarray(g * rows.length, (g + 1) * rows.length);
          for (let r = 0; r < rows.length; r++) expect(Math.abs(got[r]! - expected[r]!)).toBeLessThan(1e-5);
        }
      }
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
});
