// Perturbation directions z drawn from a seed. SPSA, its replay and ES all go through here, so a direction
// regenerated from its seed is bit-identical to the one the estimate was made with.
import { ConfigError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import type { DirectionKind } from './types.ts';

export function checkDirectionKind(kind: string): asserts kind is DirectionKind {
  if (kind !== 'gaussian' && kind !== 'rademacher') {
    throw new ConfigError('directions', `must be 'gaussian' or 'rademacher', got '${kind}'`);
  }
}

/** Fills `out` with a fresh direction from `rng`: N(0, 1) or ±1 entries, both with E[zzᵀ] = I. */
export function drawDirection(rng: Rng, out: Float32Array, kind: DirectionKind): void {
  if (kind === 'gaussian') rng.fillGaussian(out);
  else rng.fillRademacher(out);
}

/** acc += s·z, in float64 so that summing many directions loses nothing before the final rounding. */
export function addScaled(acc: Float64Array, z: Float32Array, s: number): void {
  for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + s * z[j]!;
}
