// ES / parameter-noise LR (spec §2.2): every query of sample i evaluates it at its own θ + σE_ij, so directions
// are per sample rather than shared as in SPSA, and queries of different samples are independent. One oracle
// call per query makes this practical only for small θ (a head), which is where the design note offers it.
// With antithetic pairs n_i counts directions, as in SPSA (2 rows each, so the same budget N costs the same 2N
// rows and nMin = 1 works), and a pair contributes δ E with δ = (ℓ(θ+σE) − ℓ(θ−σE))/2σ. One-sided, n_i counts
// single queries contributing (ℓ − b_i) E/σ. Sample i's noise comes from deriveSeed(stepSeed, i), so it does not
// depend on the other samples' counts.
import { ConfigError } from '../errors.ts';
import type { LossOracle } from '../oracle.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { addScaled, checkDirectionKind, drawDirection } from './directions.ts';
import type { EsOptions, EstimateResult } from './types.ts';
import { checkBaseline, checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

export async function estimateEs(
  oracle: LossOracle,
  theta: Float32Array,
  counts: Int32Array,
  stepSeed: number,
  opts: EsOptions,
): Promise<EstimateResult> {
  const step = opts.step ?? 0;
  const sigma = opts.sigma;
  const antithetic = opts.antithetic ?? true;
  const kind = opts.directions ?? 'gaussian';
  checkPositive('esSigma', sigma);
  checkDirectionKind(kind);
  const b = oracle.batchSize;
  checkCounts(counts, b, opts.nMin ?? 1, false);
  const baseline = opts.baseline;
  if (baseline !== undefined) checkBaseline(baseline, b, step);
  else if (!antithetic)
    throw new ConfigError('baseline', 'one-sided ES needs a per-sample baseline (clean losses)');

  const d = theta.length;
  const e = new Float32Array(d);
  const probe = new Float32Array(d);
  const loss = new Float32Array(1);
  const row = new Int32Array(1);
  const acc = new Float64Array(d);
  const varianceEstimates = new Float64Array(b);
  const scalars: number[] = [];
  const lossAt = async (sign: number, what: string): Promise<number> => {
    for (let j = 0; j < d; j++) probe[j] = theta[j]! + sign * sigma * e[j]!;
    await oracle.losses(probe, row, loss);
    const value = loss[0]!;
    if (!Number.isFinite(value)) throw nonFiniteLoss(step, what, value);
    return value;
  };

  let total = 0;
  for (let i = 0; i < b; i++) {
    const n = counts[i]!;
    total += n;
    row[0] = i;
    const rng = new Rng(deriveSeed(stepSeed, i));
    let vSum = 0;
    for (let t = 0; t < n; t++) {
      drawDirection(rng, e, kind);
      let coef: number;
      if (antithetic) {
        const lp = await lossAt(1, `batch row ${i} at θ+σE_${t}`);
        const lm = await lossAt(-1, `batch row ${i} at θ−σE_${t}`);
        const delta = (lp - lm) / (2 * sigma);
        coef = delta;
        vSum += delta * delta;
      } else {
        const dev = (await lossAt(1, `batch row ${i} at θ+σE_${t}`)) - baseline![i]!;
        coef = dev / sigma;
        vSum += dev * dev;
      }
      const s = Math.fround(coef / (b * n));
      scalars.push(s);
      addScaled(acc, e, s);
    }
    // §3.4(a) in parameter space: d · mean δ² for pairs, d/σ² · mean (ℓ − b)² one-sided.
    varianceEstimates[i] = antithetic ? (d * vSum) / n : (d * vSum) / (sigma * sigma * n);
  }
  return {
    grad: Float32Array.from(acc),
    rows: antithetic ? 2 * total : total,
    varianceEstimates,
    scalars: Float32Array.from(scalars),
  };
}
