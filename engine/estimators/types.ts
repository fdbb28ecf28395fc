// The result every estimator returns, and the options each one takes. Field names of the options follow the
// training config (spsaEps, lrSigma, directions, nMin) so errors name the field a user can fix.

export interface EstimateResult {
  /** The gradient estimate, same length as theta. */
  grad: Float32Array;
  /** Forward rows spent by the estimator (not counting the clean pass). */
  rows: number;
  /** v̂_i per sample, §3.4 (a), for the allocator and metrics. */
  varianceEstimates: Float64Array;
  /** Per-direction projected gradients (SPSA: s_k), stored for replay (§Q16). Empty where replay needs more. */
  scalars: Float32Array;
}

/** Distribution of SPSA/ES directions z ('table': windows of a shared noise table, see directions.ts). */
export type DirectionKind = 'gaussian' | 'rademacher' | 'table';

export interface SpsaOptions {
  /** ε of the central difference θ ± εz. */
  eps: number;
  directions?: DirectionKind;
  /** Smallest allowed count per sample (default 1; 0 would drop the sample and bias ĝ). */
  nMin?: number;
  /** Training step, for error messages. */
  step?: number;
}

export interface HeadLrOptions {
  /** σ of the Gaussian noise added to the logits. */
  sigma: number;
  /** Antithetic pairs (ε, −ε) within each sample (default true; counts must then be even). */
  antithetic?: boolean;
  /** Default 2 with antithetic pairs, else 1. */
  nMin?: number;
  /** b_i per sample; default the clean per-sample loss (§Q8). */
  baseline?: Float64Array;
  step?: number;
}

export interface LrEstimateResult extends EstimateResult {
  /** ∂/∂log σ_k per output unit (sum over units for a shared scalar σ), for a learnable σ (§Q10). */
  gradLogSigma: Float32Array;
  /** Per-sample losses at the unperturbed parameters (the baseline when none was given). */
  cleanLosses: Float64Array;
}

export interface EsOptions {
  /** σ of the parameter noise θ + σE. */
  sigma: number;
  /** Distribution of E (default Gaussian). */
  directions?: DirectionKind;
  /** Antithetic pairs (E, −E): n_i counts pairs (2 rows each, as SPSA directions); else single queries. */
  antithetic?: boolean;
  /** Default 1. */
  nMin?: number;
  /** b_i, required for one-sided (non-antithetic) queries. */
  baseline?: Float64Array;
  step?: number;
}
