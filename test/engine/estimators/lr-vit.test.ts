// LR beyond the head on a ViT (spec §2.1): noise at every trainable linear, LoRA factor, LayerNorm, bias and prompt
// output of a small random ViT, through the real ONNX path (vitLrGraph + OnnxLayerLrOracle + the contraction), and
// the average over many queries checked per trained tensor against central finite differences of an independent
// float64 forward pass (test/engine/models/vit/reference.ts).
import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError } from '../../../engine/errors.ts';
import { estimateLayersLr } from '../../../engine/estimators/lr-layers.ts';
import {
  gatherTrainable,
  PROMPTS,
  prepareViT,
  vitEngineGraphs,
  vitLrGraph,
  withTrainable,
  type PreparedViT,
  type TrainMode,
} from '../../../engine/models/vit/index.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import { deriveSeed } from '../../../engine/rng.ts';
import {
  feeds,
  lcg,
  randn,
  randomPixels,
  randomWeights,
  session,
  tinyConfig,
} from '../models/vit/helpers.ts';
import { referenceCE, referenceLogits } from '../models/vit/reference.ts';
import { cosine, norm } from './fixtures.ts';

const c = tinyConfig({ channels: 1, hidden: 8, heads: 2, mlp: 12, layers: 2, classes: 3, eps: 1e-6 });
const w = randomWeights(c, 3, 6);
const B = 4;
const PER = c.numChannels * c.imageSize[0] * c.imageSize[1];
const x = randomPixels(c, B, 2);
const labels = [0, 1, 2, 1];
const open: OnnxClassifierProblem[] = [];
afterAll(async () => {
  for (const p of open) await p.release();
});

/** Mean CE of the batch at θ in float64 (independent of our graph builder). */
function meanLoss(p: PreparedViT, theta: Float32Array): number {
  const q = withTrainable(p, theta);
  const extras = { prompts: q.tensors.get(PROMPTS), loraScale: q.loraScale };
  let s = 0;
  for (let i = 0; i < B; i++) {
    s += referenceCE(referenceLogits(c, q.tensors, x.subarray(i * PER, (i + 1) * PER), extras), labels[i]!);
  }
  return s / B;
}

/** Central differences over float32-representable steps (θ lives in float32). */
function finiteDifferences(p: PreparedViT, theta: Float32Array): Float64Array {
  const g = new Float64Array(theta.length);
  const h = 1e-3;
  for (let j = 0; j < theta.length; j++) {
    const plus = theta.slice();
    const minus = theta.slice();
    plus[j] = Math.fround(theta[j]! + h);
    minus[j] = Math.fround(theta[j]! - h);
    g[j] = (meanLoss(p, plus) - meanLoss(p, minus)) / (plus[j]! - minus[j]!);
  }
  return g;
}

/** The problem the app would build: prefix once (if any), then the suffix graph and its LR variant. */
async function lrProblem(mode: TrainMode): Promise<{ p: PreparedViT; problem: OnnxClassifierProblem }> {
  const p0 = prepareViT(c, w, { mode, numClasses: 3, newHead: true, seed: 5 });
  // Away from the init: LoRA's B = 0 would make A's gradient exactly 0, and a zero head hides the backbone.
  const theta = gatherTrainable(p0);
  const jitter = randn(theta.length, lcg(11), 0.3);
  for (let j = 0; j < theta.length; j++) theta[j]! += jitter[j]!;
  const p = withTrainable(p0, theta);
  const graphs = vitEngineGraphs(p);
  let rows = x;
  if (graphs.prefix) {
    const prefix = await session(graphs.prefix.bytes);
    rows = (await prefix.run(feeds({ x: { data: x, dims: [B, PER] } })))[graphs.prefix.outputName]!
      .data as Float32Array;
    await prefix.release();
  }
  const data = { x: rows, y: labels };
  const problem = await createOnnxClassifierProblem({
    model: graphs.suffix ?? graphs.full,
    lrModel: vitLrGraph(p, graphs),
    train: data,
    val: data,
    intraOpNumThreads: 1,
  });
  open.push(problem);
  await problem.loadBatch(Int32Array.from({ length: B }, (_, i) => i));
  return { p, problem };
}

/** Mean of `rounds` LR estimates of `perSample` antithetic queries per sample each, and each coordinate's variance of
 * that mean (from the spread between rounds). */
async function averageLr(problem: OnnxClassifierProblem, rounds: number, perSample: number, sigma: number) {
  const theta = problem.params.data;
  const clean = new Float64Array(B);
  await problem.cleanLosses(theta, clean);
  const sum = new Float64Array(theta.length);
  const sq = new Float64Array(theta.length);
  const counts = new Int32Array(B).fill(perSample);
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    const est = await estimateLayersLr(problem.lrLayers!, theta, counts, deriveSeed(3, r), {
      sigma,
      baseline: clean,
    });
    for (let j = 0; j < sum.length; j++) {
      sum[j]! += est.grad[j]!;
      sq[j]! += est.grad[j]! ** 2;
    }
  }
  const mean = sum.map((v) => v / rounds);
  const varOfMean = sq.map((v, j) => (v / rounds - mean[j]! ** 2) / (rounds - 1));
  return { mean, varOfMean, ms: performance.now() - started };
}

/**
 * Per tensor: cosine and norm error against the exact gradient, and z = ‖mean − exact‖² / E‖mean − E mean‖², the
 * squared error over what the Monte-Carlo noise alone explains (≈ 1 when unbiased; a wrong token sum, a missing
 * α/r or a dropped tensor would put it far above).
 */
function perTensor(problem: OnnxClassifierProblem, est: Float64Array, v: Float64Array, exact: Float64Array) {
  return problem.params.specs.map((s) => {
    const o = problem.params.offset(s.name);
    const n = problem.params.view(s.name).length;
    const e = est.subarray(o, o + n);
    const x0 = exact.subarray(o, o + n);
    let err = 0;
    let noise = 0;
    for (let j = 0; j < n; j++) {
      err += (e[j]! - x0[j]!) ** 2;
      noise += v[o + j]!;
    }
    return {
      name: s.name,
      cos: cosine(e, x0),
      normErr: Math.abs(norm(e) / norm(x0) - 1),
      z: err / noise,
      exactNorm: norm(x0),
    };
  });
}

// Measured with 60 rounds of 4000 rows (σ = 1e-3): whole-vector cosine 0.9968 (lora), 0.9961 (last-k), 0.9933
// (bitfit), 0.9999 (vpt); norm errors 0.2–1.7%. Per tensor the cosine is limited by the Monte-Carlo noise of the
// weakest ones (every site's noise moves the loss each tensor's estimate is weighted by): lowest 0.96 for LoRA
// (block 1's query A), 0.79 for last-k (block 1's fc1 bias), 0.90 for BitFit (block 1's fc2 bias). Each tensor's squared error is
// therefore compared with its own Monte-Carlo variance (z), which catches a bias of a few percent of any tensor.
const CASES: [string, TrainMode, { cos: number; normErr: number; tensorCos: number }][] = [
  [
    'lora (A and B of q, v in both blocks, head)',
    { kind: 'lora', rank: 2, alpha: 4, targets: ['q', 'v'] },
    { cos: 0.99, normErr: 0.03, tensorCos: 0.93 },
  ],
  [
    'last-k (linears, LayerNorms, final LN, head)',
    { kind: 'last-k', k: 1 },
    { cos: 0.99, normErr: 0.03, tensorCos: 0.75 },
  ],
  [
    'bitfit (every bias and LN affine, the patch bias)',
    { kind: 'bitfit' },
    { cos: 0.985, normErr: 0.05, tensorCos: 0.85 },
  ],
  ['vpt (prompt tokens, head)', { kind: 'vpt', prompts: 2 }, { cos: 0.99, normErr: 0.03, tensorCos: 0.99 }],
];
const ROUNDS = 60;

describe('LR through a ViT suffix is unbiased for the gradient, tensor by tensor', () => {
  for (const [label, mode, bound] of CASES) {
    it(label, async () => {
      const { p, problem } = await lrProblem(mode);
      const exact = finiteDifferences(p, problem.params.data);
      const { mean, varOfMean, ms } = await averageLr(problem, ROUNDS, 1000, 1e-3);
      const rows = ROUNDS * 1000 * B;
      const all = { cos: cosine(mean, exact), normErr: Math.abs(norm(mean) / norm(exact) - 1) };
      const each = perTensor(problem, mean, varOfMean, exact);
      console.log(
        `[lr-vit] ${mode.kind}: ${rows} rows in ${ms.toFixed(0)} ms; cosine ${all.cos.toFixed(4)}, norm error ${(100 * all.normErr).toFixed(2)}%; ` +
          `per tensor cos/z: ${each.map((t) => `${t.name.replace('vit.encoder.layer.', 'L')} ${t.cos.toFixed(3)}/${t.z.toFixed(2)}`).join(', ')}`,
      );
      expect(all.cos).toBeGreaterThan(bound.cos);
      expect(all.normErr).toBeLessThan(bound.normErr);
      for (const t of each) {
        expect(t.z, t.name).toBeLessThan(3);
        // A key bias shifts every score of a query by the same amount, which softmax ignores: its gradient is 0.
        if (t.name.endsWith('key.bias')) expect(t.exactNorm).toBeLessThan(1e-6);
        else expect(t.cos, t.name).toBeGreaterThan(bound.tensorCos);
      }
    });
  }
});

describe('the site contraction', () => {
  it('in ORT (C = c·σε inside the graph) equals the JS fallback (C in JS, Gemm and column sums) on every site kind', async () => {
    // bitfit has shift sites and LayerNorm gains; last-k adds linear sites with T tokens.
    for (const mode of [{ kind: 'bitfit' }, { kind: 'last-k', k: 1 }] as TrainMode[]) {
      const { problem } = await lrProblem(mode);
      const native = problem.lrLayers!;
      // The same oracle without contractSite: the estimator then forms C itself.
      const fallback = {
        get batchSize() {
          return native.batchSize;
        },
        layers: native.layers,
        layout: native.layout,
        queries: native.queries.bind(native),
        contract: native.contract.bind(native),
      };
      const theta = problem.params.data;
      const clean = new Float64Array(B);
      await problem.cleanLosses(theta, clean);
      const counts = new Int32Array(B).fill(6);
      const opts = { sigma: 0.05, baseline: clean };
      const a = await estimateLayersLr(native, theta, counts, 17, opts);
      const b = await estimateLayersLr(fallback, theta, counts, 17, opts);
      let worst = 0;
      for (const s of problem.params.specs) {
        const o = problem.params.offset(s.name);
        const n = problem.params.view(s.name).length;
        const x = a.grad.subarray(o, o + n);
        const y = b.grad.subarray(o, o + n);
        let d = 0;
        for (let j = 0; j < n; j++) d = Math.max(d, Math.abs(x[j]! - y[j]!));
        worst = Math.max(worst, d / Math.max(...Array.from(y, Math.abs)));
      }
      // float32 C, rounded in a different order: agreement to a few ulps of the largest entry.
      expect(worst).toBeLessThan(1e-5);
      expect(norm(a.grad)).toBeGreaterThan(0);
    }
  });
});

describe('tensors LR cannot reach', () => {
  it("are refused with a ConfigError naming them ('full' trains the embeddings)", () => {
    const p = prepareViT(c, w, { mode: { kind: 'full' }, numClasses: 3, newHead: true });
    expect(() => vitLrGraph(p)).toThrow(ConfigError);
    expect(() => vitLrGraph(p)).toThrow(
      /LR cannot reach 'vit\.embeddings\.cls_token', 'vit\.embeddings\.position_embeddings', 'vit\.embeddings\.patch_embeddings\.projection\.weight', 'vit\.embeddings\.patch_embeddings\.projection\.bias' in trainable mode 'full'/,
    );
  });
});
