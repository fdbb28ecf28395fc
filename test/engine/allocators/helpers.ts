// Shared fixtures for the allocator tests: seeded random batches and requests, so every test is reproducible.
import type { AllocationRequest } from '../../../engine/allocators/index.ts';
import type { Rng } from '../../../engine/rng.ts';

/** One standard normal from `rng` (fillGaussian works on arrays; tests often want one at a time). */
export function gaussian(rng: Rng): number {
  const a = new Float32Array(1);
  rng.fillGaussian(a);
  return a[0]!;
}

/** Integer in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
}

/**
 * B per-sample losses of a varied shape: CE-like log-normal, heavy-tailed, with exact ties, a near-zero bulk with
 * outliers, or all equal. The shapes are the ones that break naive rounding and covariance code.
 */
export function randomLosses(rng: Rng, b: number): Float64Array {
  const kind = randInt(rng, 0, 4);
  return Float64Array.from({ length: b }, () => {
    switch (kind) {
      case 0:
        return 0.7 * Math.exp(0.8 * gaussian(rng));
      case 1:
        return 1 / (rng.nextFloat() + 1e-3); // heavy right tail
      case 2:
        return randInt(rng, 0, 2) * 0.5; // many exact ties
      case 3:
        return rng.nextFloat() < 0.9 ? 1e-6 * rng.nextFloat() : 5 + rng.nextFloat();
      default:
        return 0.3; // all tied
    }
  });
}

export function request(
  losses: Float64Array,
  over: Partial<AllocationRequest> & Pick<AllocationRequest, 'budget'>,
): AllocationRequest {
  const b = losses.length;
  return {
    losses,
    sampleIds: Int32Array.from({ length: b }, (_, i) => i),
    nMin: 1,
    nMax: over.budget,
    step: 0,
    epoch: 0,
    seed: 1,
    granularity: 1,
    ...over,
  };
}

export function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}
