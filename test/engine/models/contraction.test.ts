import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildContraction, Contraction } from '../../../engine/models/contraction.ts';
import { buildMlpLr } from '../../../engine/models/mlp.ts';
import { createSession, ParamFeeds } from '../../../engine/onnx/session.ts';
import { FlatParams } from '../../../engine/params.ts';
import { Rng } from '../../../engine/rng.ts';
import { lcg, maxAbsDiff, randomData } from './reference.ts';

let contraction: Contraction;
beforeAll(async () => {
  contraction = await Contraction.create({ intraOpNumThreads: 1 });
});
afterAll(() => contraction.release());

describe('contraction graph Cᵀ·A', () => {
  it('matches a JS matmul and column sum, writing into FlatParams views in place', async () => {
    const [R, m, p] = [300, 17, 29];
    const rand = lcg(5);
    const c = Float32Array.from({ length: R * m }, () => rand() - 0.5);
    const a = Float32Array.from({ length: R * p }, () => rand() - 0.5);
    const grad = new FlatParams([
      { name: 'before', shape: [3] },
      { name: 'w', shape: [m, p] },
      { name: 'b', shape: [m] },
      { name: 'after', shape: [2] },
    ]);
    grad.data.fill(7);
    await contraction.contract(c, a, R, m, p, grad.view('w'), grad.view('b'));
    const refW = new Float64Array(m * p);
    const refB = new Float64Array(m);
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < m; i++) {
        refB[i]! += c[r * m + i]!;
        for (let j = 0; j < p; j++) refW[i * p + j]! += c[r * m + i]! * a[r * p + j]!;
      }
    }
    expect(maxAbsDiff(grad.view('w'), refW)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(grad.view('b'), refB)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(grad.view('before'))).toEqual([7, 7, 7]);
    expect(Array.from(grad.view('after'))).toEqual([7, 7]);
    expect(contraction.provider).toBe('cpu');
  });

  it('omits the bias output when not asked, and checks sizes', async () => {
    const out = new Float32Array(2 * 3);
    await contraction.contract(Float32Array.from([1, 2]), Float32Array.from([1, 10, 100]), 1, 2, 3, out);
    expect(Array.from(out)).toEqual([1, 10, 100, 2, 20, 200]);
    await expect(
      contraction.contract(new Float32Array(4), new Float32Array(3), 1, 2, 3, out),
    ).rejects.toThrow(/contract: sizes c=4 a=3 outW=6/);
  });

  it('is a stable graph: the same bytes every build', () => {
    expect(Buffer.from(buildContraction()).equals(Buffer.from(buildContraction()))).toBe(true);
  });
});

it('LR graph + contraction give an unbiased head gradient for softmax regression (T1-style, small)', async () => {
  // d = 20 features, 5 classes, B = 50 samples with 1600 antithetic queries each: one ORT run of 80 000 rows.
  const [d, K, B, n, sigma] = [20, 5, 50, 1600, 1e-2];
  const R = B * n;
  const model = buildMlpLr({ inDim: d, numClasses: K, seed: 4 });
  const params = model.initParams();
  const { x, y } = randomData(B, d, K, 12);
  const { session } = await createSession(model.bytes, { providers: ['cpu'], trainable: model.trainable });
  const run = async (xs: Float32Array, ys: BigInt64Array, noise: Float32Array) =>
    session.run({
      ...new ParamFeeds(params).feeds(params.data),
      x: new ort.Tensor('float32', xs, [ys.length, d]),
      y: new ort.Tensor('int64', ys, [ys.length]),
      noise_0: new ort.Tensor('float32', noise, [ys.length, K]),
    });
  const clean = (await run(x, y, new Float32Array(B * K))).loss!.data as Float32Array;

  // Replicate each sample n times; noise ε with antithetic pairs within the sample.
  const xs = new Float32Array(R * d);
  const ys = new BigInt64Array(R);
  const eps = new Float32Array(R * K);
  const half = new Float32Array(K);
  const rng = new Rng(77);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < n; j++) {
      const r = i * n + j;
      xs.set(x.subarray(i * d, (i + 1) * d), r * d);
      ys[r] = y[i]!;
      if (j % 2 === 0) rng.fillGaussian(half);
      for (let k = 0; k < K; k++) eps[r * K + k] = j % 2 === 0 ? half[k]! : -half[k]!;
    }
  }
  const out = await run(
    xs,
    ys,
    eps.map((e) => e * sigma),
  );
  const loss = out.loss!.data as Float32Array;
  const act = out.act_0!.data as Float32Array;
  // C[r, k] = (ℓ_r − b_i) ε_rk / (σ B n): per-sample average with the clean loss as baseline.
  const C = new Float32Array(R * K);
  for (let r = 0; r < R; r++) {
    const coef = (loss[r]! - clean[Math.floor(r / n)]!) / (sigma * B * n);
    for (let k = 0; k < K; k++) C[r * K + k] = coef * eps[r * K + k]!;
  }
  const grad = new FlatParams(model.trainable);
  await contraction.contract(C, act, R, K, d, grad.view('w0'), grad.view('b0'));

  // Analytic gradient of the mean CE: (1/B) Σ_i (softmax_i − onehot_i) x_iᵀ.
  const logits = (await run(x, y, new Float32Array(B * K))).logits!.data as Float32Array;
  const exact = new Float64Array(grad.size);
  const wOff = grad.offset('w0');
  const bOff = grad.offset('b0');
  for (let i = 0; i < B; i++) {
    const row = Array.from(logits.subarray(i * K, (i + 1) * K));
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    for (let k = 0; k < K; k++) {
      const g = (e[k]! / s - (Number(y[i]) === k ? 1 : 0)) / B;
      exact[bOff + k]! += g;
      for (let j = 0; j < d; j++) exact[wOff + k * d + j]! += g * x[i * d + j]!;
    }
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < grad.size; i++) {
    dot += grad.data[i]! * exact[i]!;
    na += grad.data[i]! ** 2;
    nb += exact[i]! ** 2;
  }
  const cosine = dot / Math.sqrt(na * nb);
  const normErr = Math.abs(Math.sqrt(na) / Math.sqrt(nb) - 1);
  console.log(
    `[contraction.test] LR head gradient: cosine ${cosine.toFixed(4)}, norm error ${(normErr * 100).toFixed(2)}%`,
  );
  expect(cosine).toBeGreaterThan(0.99);
  expect(normErr).toBeLessThan(0.05);
  await session.release();
});
