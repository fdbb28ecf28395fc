// The one interface every query allocator implements (docs/engine-design.md, "engine/allocators/types.ts"). The
// training loop sees only this, so uniform, FLOPS, Neyman and Bernoulli are interchangeable per run.

export interface AllocationRequest {
  losses: Float64Array; // clean per-sample losses of the batch (B)
  sampleIds: Int32Array; // dataset indices of the batch rows (Neyman keeps per-sample running variances)
  budget: number; // N = B * nBar estimator queries
  nMin: number;
  nMax: number;
  step: number;
  epoch: number;
  seed: number; // per-step allocator seed (deriveSeed(runSeed, step, ALLOC))
  granularity: 1 | 2; // 2 = antithetic LR: counts are even (allocate pairs, double)
}

/** v̂_i per sample, §3.4 (a), estimated from the queries the step already made. */
export interface AllocationFeedback {
  counts: Int32Array;
  varianceEstimates: Float64Array;
  sampleIds: Int32Array;
}

export type AllocatorName = 'uniform' | 'flops' | 'neyman' | 'bernoulli';

export interface Allocator {
  readonly name: AllocatorName;
  allocate(req: AllocationRequest): Int32Array; // sum === budget, nMin <= n_i <= nMax
  update(fb: AllocationFeedback): void; // FLOPS: LR (score-function) step on the reward; Neyman: running v
  snapshot(): Record<string, number>; // parameters for events/UI (alpha, beta, log c, log h, reward, ...)
  getState(): unknown; // JSON-able, for checkpoints
  setState(s: unknown): void;
}
