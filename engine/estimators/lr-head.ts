// LR at the head (spec §2.1, §7): the backbone runs once per sample for its features a_i, then every query only
// recomputes logits h_i + σε and the cross-entropy in TypeScript, so the query budget costs no backbone passes.
// θ = [W (m×p, row-major), c (m)]; baseline b_i = the clean per-sample loss (§Q8); antithetic pairs within each
// sample (§Q7). The estimate itself is the generic linear-layer LR of lr-linear.ts.
import { ConfigError } from '../errors.ts';
import type { FeatureOracle } from '../oracle.ts';
import { crossEntropy } from '../oracles/cross-entropy.ts';
import { drawOutputNoise, linearLr } from './lr-linear.ts';
import type { HeadLrOptions, LrEstimateResult } from './types.ts';
import { checkBaseline, checkCounts, checkPositive } from './validate.ts';

/** m, the number of classes, from θ's length m·(p+1). */
export function headClasses(theta: Float32Array, featureDim: number): number {
  const m = theta.length / (featureDim + 1);
  if (!Number.isInteger(m) || m < 2) {
    throw new ConfigError(
      'theta',
      `${theta.length} values is not [W (classes×${featureDim}), c (classes)] for 2 or more classes`,
    );
  }
  return m;
}

/** Clean logits W a_i + c for every sample (B×m, float64). */
export function headLogits(theta: Float32Array, features: Float32Array, b: number, p: number): Float64Array {
  const m = headClasses(theta, p);
  const h = new Float64Array(b * m);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < m; k++) {
      let s = theta[m * p + k]!;
      for (let j = 0; j < p; j++) s += theta[k * p + j]! * features[i * p + j]!;
      h[i * m + k] = s;
    }
  }
  return h;
}

function allRows(b: number): Int32Array {
  return Int32Array.from({ length: b }, (_, i) => i);
}

function cleanFromLogits(h: Float64Array, labels: Int32Array, m: number): Float64Array {
  return Float64Array.from(labels, (y, i) => crossEntropy(h, i * m, m, y));
}

/** The clean per-sample losses of the batch (what the allocator conditions on). */
export async function headCleanLosses(oracle: FeatureOracle, theta: Float32Array): Promise<Float64Array> {
  const rows = allRows(oracle.batchSize);
  const m = headClasses(theta, oracle.featureDim);
  const h = headLogits(theta, await oracle.features(rows), oracle.batchSize, oracle.featureDim);
  return cleanFromLogits(h, oracle.labels(rows), m);
}

export async function estimateHeadLr(
  oracle: FeatureOracle,
  theta: Float32Array,
  counts: Int32Array,
  stepSeed: number,
  opts: HeadLrOptions,
): Promise<LrEstimateResult> {
  const step = opts.step ?? 0;
  const sigma = opts.sigma;
  const antithetic = opts.antithetic ?? true;
  checkPositive('lrSigma', sigma);
  const b = oracle.batchSize;
  const p = oracle.featureDim;
  const m = headClasses(theta, p);
  checkCounts(counts, b, opts.nMin ?? (antithetic ? 2 : 1), antithetic);

  const rows = allRows(b);
  const features = await oracle.features(rows);
  const labels = oracle.labels(rows);
  const h = headLogits(theta, features, b, p);
  const cleanLosses = cleanFromLogits(h, labels, m);
  const baseline = opts.baseline ?? cleanLosses;
  checkBaseline(baseline, b, step);

  const noise = drawOutputNoise(counts, m, stepSeed, antithetic);
  const losses = new Float64Array(noise.length / m);
  const noisy = new Float64Array(m);
  let r = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < counts[i]!; j++, r++) {
      for (let k = 0; k < m; k++) noisy[k] = h[i * m + k]! + sigma * noise[r * m + k]!;
      losses[r] = crossEntropy(noisy, 0, m, labels[i]!);
    }
  }

  const est = linearLr(
    { outDim: m, inDim: p, counts, sigma, baseline, antithetic, step },
    { noise, losses, inputs: features, inputsPerQuery: false },
  );
  const grad = new Float32Array(theta.length);
  grad.set(est.gradW, 0);
  grad.set(est.gradC, m * p);
  return {
    grad,
    rows: est.rows,
    varianceEstimates: est.varianceEstimates,
    scalars: new Float32Array(0),
    gradLogSigma: est.gradLogSigma,
    cleanLosses,
  };
}
