import { fileURLToPath } from 'node:url';

import type * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadIdxDataset } from '../../../engine/data/idx.ts';
import { ModelError } from '../../../engine/errors.ts';
import { buildMlp, buildMlpFeatures, mlpInitialWeights } from '../../../engine/models/mlp.ts';
import { OnnxFeatureOracle, OnnxLossOracle, predict } from '../../../engine/onnx/oracle-onnx.ts';
import { createSession } from '../../../engine/onnx/session.ts';
import { maxAbsDiff, mlpReference, randomData } from '../models/reference.ts';

const o = { inDim: 16, hidden: [12], numClasses: 4, seed: 8 };
const model = buildMlp(o);
const B = 24;
const { x, y } = randomData(B, 16, 4, 31);
let session: ort.InferenceSession;

beforeAll(async () => {
  ({ session } = await createSession(model.bytes, {
    providers: ['cpu'],
    intraOpNumThreads: 1,
    trainable: model.trainable,
  }));
});
afterAll(() => session.release());

/** Reference per-row losses of the batch at theta. */
function refLosses(theta: Float32Array): Float64Array {
  const params = model.initParams();
  params.data.set(theta);
  const w = mlpInitialWeights(o);
  for (const s of params.specs) w[s.name] = params.view(s.name);
  return mlpReference(w, model.layerDims, x, y).loss;
}

describe('OnnxLossOracle', () => {
  it('returns per-row losses of arbitrary rows (repeats, any order) at theta', async () => {
    const params = model.initParams();
    const oracle = new OnnxLossOracle(session, model, params);
    oracle.setBatch(x, y);
    expect(oracle.batchSize).toBe(B);
    const rows = Int32Array.from([5, 0, 23, 5, 5, 11, 2]);
    const out = new Float32Array(rows.length + 2).fill(-1);
    await oracle.losses(params.data, rows, out);
    const ref = refLosses(params.data);
    expect(
      maxAbsDiff(
        out.subarray(0, rows.length),
        Array.from(rows, (r) => ref[r]!),
      ),
    ).toBeLessThanOrEqual(1e-5);
    expect(Array.from(out.subarray(rows.length))).toEqual([-1, -1]);
  });

  it('gives the same losses in chunks, for contiguous ranges (no gather) and at a perturbed theta', async () => {
    const params = model.initParams();
    const chunked = new OnnxLossOracle(session, model, params, { maxRowsPerRun: 5 });
    const whole = new OnnxLossOracle(session, model, params);
    chunked.setBatch(x, y);
    whole.setBatch(x, y);
    const all = Int32Array.from({ length: B }, (_, i) => i);
    const a = new Float32Array(B);
    const b = new Float32Array(B);
    await chunked.losses(params.data, all, a);
    await whole.losses(params.data, all, b);
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-6);
    const mid = new Float32Array(6);
    await whole.losses(params.data, all.subarray(10, 16), mid);
    expect(maxAbsDiff(mid, b.subarray(10, 16))).toBeLessThanOrEqual(1e-6);

    // A different vector (theta + εz) and the same vector changed in place both take effect.
    const theta2 = params.data.map((v, i) => v + 0.05 * Math.sin(i));
    await whole.losses(theta2, all, a);
    expect(maxAbsDiff(a, refLosses(theta2))).toBeLessThanOrEqual(1e-5);
    theta2.set(params.data);
    await whole.losses(theta2, all, a);
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-6);
  });

  it('refuses rows outside the batch, a short out, and a session without the trainable inputs', async () => {
    const params = model.initParams();
    const oracle = new OnnxLossOracle(session, model, params);
    oracle.setBatch(x, y);
    await expect(oracle.losses(params.data, Int32Array.from([0, B]), new Float32Array(2))).rejects.toThrow(
      /row 24 is outside the batch \[0, 24\)/,
    );
    await expect(oracle.losses(params.data, Int32Array.from([0, 1]), new Float32Array(1))).rejects.toThrow(
      /out has 1 slots/,
    );
    expect(() => oracle.setBatch(x, y.subarray(1))).toThrow(/24 rows of x but 23 labels/);
    const frozen = buildMlp({ ...o, frozenLayers: 1 });
    const { session: s2 } = await createSession(frozen.bytes, { providers: ['cpu'] });
    expect(() => new OnnxLossOracle(s2, frozen, model.initParams())).toThrow(ModelError);
    expect(() => new OnnxLossOracle(s2, frozen, model.initParams())).toThrow(
      /model lacks input w0, input b0/,
    );
    await s2.release();
  });
});

describe('OnnxFeatureOracle', () => {
  it('returns frozen-prefix features and labels of the requested rows', async () => {
    const features = buildMlpFeatures(o);
    const { session: fs } = await createSession(features.bytes, { providers: ['cpu'] });
    const oracle = new OnnxFeatureOracle(fs, features, { maxRowsPerRun: 4 });
    oracle.setBatch(x, y);
    expect(oracle.featureDim).toBe(12);
    expect(oracle.batchSize).toBe(B);
    const rows = Int32Array.from([3, 3, 20, 0, 7, 1]);
    const f = await oracle.features(rows);
    expect(f.length).toBe(rows.length * 12);
    const ref = mlpReference(mlpInitialWeights(o), model.layerDims, x, y).acts[1]!;
    const expected = Array.from(rows).flatMap((r) => Array.from(ref.subarray(r * 12, (r + 1) * 12)));
    expect(maxAbsDiff(f, expected)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(oracle.labels(rows))).toEqual(Array.from(rows, (r) => Number(y[r])));
    expect(() => oracle.labels(Int32Array.from([-1]))).toThrow(/outside the batch/);
    await fs.release();
  });
});

describe('predict', () => {
  it('returns logits, argmax predictions, accuracy and mean loss, in chunks', async () => {
    const params = model.initParams();
    const r = await predict(session, x, {
      io: model,
      params: { layout: params, theta: params.data },
      labels: y,
      chunkRows: 7,
    });
    const ref = mlpReference(
      {
        ...mlpInitialWeights(o),
        ...Object.fromEntries(params.specs.map((s) => [s.name, params.view(s.name)])),
      },
      model.layerDims,
      x,
      y,
    );
    expect(maxAbsDiff(r.logits, ref.logits)).toBeLessThanOrEqual(1e-5);
    let correct = 0;
    for (let i = 0; i < B; i++) {
      const row = Array.from(ref.logits.subarray(i * 4, i * 4 + 4));
      const best = row.indexOf(Math.max(...row));
      expect(r.predictions[i]).toBe(best);
      if (BigInt(best) === y[i]) correct++;
    }
    expect(r.accuracy).toBeCloseTo(correct / B, 10);
    expect(r.meanLoss).toBeCloseTo(ref.loss.reduce((a, b) => a + b, 0) / B, 5);
    const unlabeled = await predict(session, x, {
      io: model,
      params: { layout: params, theta: params.data },
    });
    expect(unlabeled.accuracy).toBeUndefined();
    expect(unlabeled.meanLoss).toBeUndefined();
    expect(maxAbsDiff(unlabeled.logits, r.logits)).toBeLessThanOrEqual(1e-6);
  });

  it('evaluates the Fashion-MNIST fixture end to end', async () => {
    const fixture = (n: string): string => fileURLToPath(new URL(`../../fixtures/idx/${n}`, import.meta.url));
    const ds = await loadIdxDataset(
      fixture('t10k-64-images-idx3-ubyte.gz'),
      fixture('t10k-64-labels-idx1-ubyte'),
    );
    const m = buildMlp({ inDim: ds.inDim, hidden: [32], numClasses: 10, seed: 1 });
    const { session: s } = await createSession(m.bytes, { providers: ['cpu'], trainable: m.trainable });
    const p = m.initParams();
    const r = await predict(s, ds.x, { io: m, params: { layout: p, theta: p.data }, labels: ds.y });
    expect(r.predictions.length).toBe(64);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(r.meanLoss).toBeGreaterThan(0);
    await s.release();
  });
});
