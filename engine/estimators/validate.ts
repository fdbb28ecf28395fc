// Argument checks shared by the estimators. A bad value here is a configuration mistake (ConfigError); a
// non-finite loss from the model is divergence (DivergenceError), reported with where it happened.
import { ConfigError, DivergenceError } from '../errors.ts';

export function checkPositive(field: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0))
    throw new ConfigError(field, `must be a finite number > 0, got ${value}`);
}

/** Queries per sample: one per batch row, integers >= nMin, and even when they come in antithetic pairs. */
export function checkCounts(counts: Int32Array, batchSize: number, nMin: number, pairs: boolean): void {
  if (!(Number.isInteger(nMin) && nMin >= 1))
    throw new ConfigError('nMin', `must be an integer >= 1, got ${nMin}`);
  if (counts.length !== batchSize) {
    throw new ConfigError('counts', `has ${counts.length} entries for a batch of ${batchSize}`);
  }
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n < nMin) throw new ConfigError('counts', `sample ${i} has ${n} queries, below nMin = ${nMin}`);
    if (pairs && n % 2 !== 0) {
      throw new ConfigError('counts', `sample ${i} has ${n} queries; antithetic pairs need an even count`);
    }
  }
}

/** Baselines are clean losses, so a non-finite one means the model diverged, not that the config is wrong. */
export function checkBaseline(baseline: Float64Array, batchSize: number, step: number): void {
  if (baseline.length !== batchSize) {
    throw new ConfigError('baseline', `has ${baseline.length} entries for a batch of ${batchSize}`);
  }
  for (let i = 0; i < baseline.length; i++) {
    if (!Number.isFinite(baseline[i]!))
      throw nonFiniteLoss(step, `the clean pass of batch row ${i}`, baseline[i]!);
  }
}

export function nonFiniteLoss(step: number, what: string, value: number): DivergenceError {
  return new DivergenceError(step, `the model returned a non-finite loss (${value}) for ${what}`);
}
