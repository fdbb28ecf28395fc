// The native 'table'-direction fast path of the ONNX classifier's oracle: the Scan graph variant must give the
// losses `losses()` gives at θ + ε·table[o : o + d] formed in JS, for any offsets, signs, rows and chunking, and
// SPSA through it must match the JS fallback and stay deterministic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { noiseTable, noiseTableSize } from '../../../engine/estimators/directions.ts';
import { estimateSpsa, replaySpsaUpdate } from '../../../engine/estimators/spsa.ts';
import { buildMlp, type MlpOptions } from '../../../engine/models/mlp.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import { randomData } from '../models/reference.ts';

const OPTS: MlpOptions = { inDim: 6, hidden: [9, 5], numClasses: 3, seed: 4 };
const trainSet = randomData(40, 6, 3, 1);
const valSet = randomData(10, 6, 3, 2);

let problem: OnnxClassifierProblem;
let chunked: OnnxClassifierProblem;
beforeAll(async () => {
  const common = {
    model: buildMlp(OPTS),
    train: { x: trainSet.x, y: Int32Array.from(trainSet.y, Number) },
    val: valSet,
    intraOpNumThreads: 1,
  };
  problem = await createOnnxClassifierProblem(common);
  chunked = await createOnnxClassifierProblem({ ...common, maxRowsPerRun: 3 });
  const ids = Int32Array.from({ length: 8 }, (_, i) => 3 * i + 1);
  await problem.loadBatch(ids);
  await chunked.loadBatch(ids);
});
afterAll(async () => {
  await problem.release();
  await chunked.release();
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
});
