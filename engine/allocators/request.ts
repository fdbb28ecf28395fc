// Checks shared by every allocator. Bad sizes are configuration errors; a non-finite loss or variance estimate
// means training has diverged, and saying so (with the batch row and dataset index) beats letting NaN reach a
// Cholesky factor or a Map of running variances where it would poison every later step.
import { ConfigError, DivergenceError } from '../errors.ts';
import { type Bounds, checkBounds } from './integerise.ts';
import type { AllocationFeedback, AllocationRequest } from './types.ts';

/** Validates sizes, bounds and (when the allocator reads them) the losses; returns the bounds of the request. */
export function checkRequest(req: AllocationRequest, who: string, readsLosses: boolean): Bounds {
  const b = req.losses.length;
  if (req.sampleIds.length !== b) {
    throw new ConfigError('allocator.sampleIds', `${req.sampleIds.length} sample ids for ${b} losses`);
  }
  const bounds: Bounds = {
    budget: req.budget,
    nMin: req.nMin,
    nMax: req.nMax,
    granularity: req.granularity,
  };
  checkBounds(b, bounds);
  if (readsLosses) {
    for (let i = 0; i < b; i++) {
      const l = req.losses[i]!;
      if (!Number.isFinite(l)) {
        throw new DivergenceError(
          req.step,
          `${who} allocator: clean loss of batch row ${i} (sample ${req.sampleIds[i]}) is ${l}; ` +
            'the model has diverged, so no allocation can be made from these losses',
        );
      }
    }
  }
  return bounds;
}

/** Validates feedback sizes and that every v̂_i is finite and ≥ 0; `step` is the step that produced it. */
export function checkFeedback(fb: AllocationFeedback, who: string, step: number): void {
  const b = fb.counts.length;
  if (fb.varianceEstimates.length !== b || fb.sampleIds.length !== b) {
    throw new ConfigError(
      'allocator.feedback',
      `${b} counts, ${fb.varianceEstimates.length} variance estimates and ${fb.sampleIds.length} sample ids`,
    );
  }
  for (let i = 0; i < b; i++) {
    const v = fb.varianceEstimates[i]!;
    if (!Number.isFinite(v) || v < 0) {
      throw new DivergenceError(
        step,
        `${who} allocator: variance estimate of batch row ${i} (sample ${fb.sampleIds[i]}) is ${v}`,
      );
    }
    if (!(fb.counts[i]! >= 1)) {
      throw new ConfigError(
        'allocator.feedback.counts',
        `row ${i} has ${fb.counts[i]} queries (must be ≥ 1)`,
      );
    }
  }
}

/** u_i = (ℓ_i − mean ℓ) / (std ℓ + 1e-8), population std (§3.4, Q9): scale-free features; tied losses give u = 0. */
export function standardise(losses: ArrayLike<number>): Float64Array {
  const b = losses.length;
  let mean = 0;
  for (let i = 0; i < b; i++) mean += losses[i]!;
  mean /= b;
  let ss = 0;
  for (let i = 0; i < b; i++) ss += (losses[i]! - mean) ** 2;
  const sd = Math.sqrt(ss / b);
  return Float64Array.from(losses, (l) => (l - mean) / (sd + 1e-8));
}

// --- Checkpoint state parsing. States are plain JSON objects tagged with the allocator kind and a version, so a
// checkpoint written by another allocator (or a future format) is refused with a message, not half-loaded.

const STATE_FIELD = 'allocator.state';

/** The object behind `s` if it is a state of allocator `kind` at `version`; throws ConfigError otherwise. */
export function readState(s: unknown, kind: string, version: number): Record<string, unknown> {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new ConfigError(STATE_FIELD, `expected an object, got ${s === null ? 'null' : typeof s}`);
  }
  const o = s as Record<string, unknown>;
  if (o.kind !== kind) {
    throw new ConfigError(STATE_FIELD, `is a state of allocator "${String(o.kind)}", not "${kind}"`);
  }
  if (o.version !== version) {
    throw new ConfigError(STATE_FIELD, `version ${String(o.version)} is not supported (expected ${version})`);
  }
  return o;
}

/** A finite number field of a state object. */
export function stateNumber(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(`${STATE_FIELD}.${key}`, `expected a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A field that is a finite number or null (JSON has no NaN: "not yet known" is stored as null). */
export function stateOptionalNumber(o: Record<string, unknown>, key: string): number | undefined {
  return o[key] === null || o[key] === undefined ? undefined : stateNumber(o, key);
}

/** An array of `length` finite numbers. */
export function stateNumbers(o: Record<string, unknown>, key: string, length?: number): number[] {
  const v = o[key];
  if (
    !Array.isArray(v) ||
    (length !== undefined && v.length !== length) ||
    !v.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    const want = length === undefined ? 'an array of finite numbers' : `${length} finite numbers`;
    throw new ConfigError(`${STATE_FIELD}.${key}`, `expected ${want}`);
  }
  return v as number[];
}
