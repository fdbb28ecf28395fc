// The released code's only working allocator, `bernoulli_allocater` (§3.6), re-implemented as a code-faithful
// ablation: each below-mean-loss sample is halved with probability p and the freed queries go evenly to the
// samples that kept their share, the remainder one unit at a time to random members of that set (with
// replacement). Differences from the code, each forced by the Allocator contract: the halved count never drops
// below n_min and no count exceeds n_max (the code has neither bound), the randomness comes from the step's seed,
// and with granularity 2 the whole heuristic runs on pairs.
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { checkFeedback, checkRequest, readState } from './request.ts';
import { fromUnits, toUnits } from './integerise.ts';
import type { AllocationFeedback, AllocationRequest, Allocator } from './types.ts';
import { allocationVariance } from './variance.ts';

/** p by epoch: `initialP` for epochs < `initialEpochs`, then `laterP` (trainer_a.py:130-133: 0.3 in epoch 0, then 0.01). */
export interface BernoulliSchedule {
  initialP: number;
  initialEpochs: number;
  laterP: number;
}

export interface BernoulliConfig {
  kind: 'bernoulli';
  pSchedule: BernoulliSchedule;
}

export const BERNOULLI_DEFAULTS: Omit<BernoulliConfig, 'kind'> = {
  pSchedule: { initialP: 0.3, initialEpochs: 1, laterP: 0.01 },
};

export function checkBernoulliConfig(c: BernoulliConfig): void {
  const s = c.pSchedule;
  for (const key of ['initialP', 'laterP'] as const) {
    if (!(s[key] >= 0 && s[key] <= 1)) {
      throw new ConfigError(`allocator.pSchedule.${key}`, `must be a probability in [0, 1], got ${s[key]}`);
    }
  }
  if (!Number.isInteger(s.initialEpochs) || s.initialEpochs < 0) {
    throw new ConfigError(
      'allocator.pSchedule.initialEpochs',
      `must be an integer ≥ 0, got ${s.initialEpochs}`,
    );
  }
}

export function bernoulliP(s: BernoulliSchedule, epoch: number): number {
  return epoch < s.initialEpochs ? s.initialP : s.laterP;
}

export class BernoulliAllocator implements Allocator {
  readonly name = 'bernoulli';
  readonly config: BernoulliConfig;
  #step = 0;
  #p = Number.NaN;
  #halved = 0;
  #reward: number | undefined;

  constructor(config: BernoulliConfig) {
    checkBernoulliConfig(config);
    this.config = config;
  }

  allocate(req: AllocationRequest): Int32Array {
    const bounds = checkRequest(req, 'bernoulli', true);
    this.#step = req.step;
    const { budget, nMin, nMax } = toUnits(bounds);
    const losses = req.losses;
    const b = losses.length;
    const p = bernoulliP(this.config.pSchedule, req.epoch);
    const rng = new Rng(req.seed);

    const base = Math.floor(budget / b); // n̄ (in units); B·nMin ≤ N ≤ B·nMax keeps it inside the bounds
    const half = Math.max(Math.floor(base / 2), nMin);
    let mean = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < b; i++) {
      const l = losses[i]!;
      mean += l;
      lo = Math.min(lo, l);
      hi = Math.max(hi, l);
    }
    // Clamped because a float mean of tied losses can land one ulp above them (3 × 0.1 / 3 > 0.1), which would
    // halve every sample; clamped, ties halve nobody and the largest loss is always kept.
    mean = Math.min(hi, Math.max(lo, mean / b));

    const n = new Int32Array(b).fill(base);
    let halved = 0;
    for (let i = 0; i < b; i++) {
      // One draw per below-mean sample, in row order, so the allocation is a pure function of (losses, seed).
      if (losses[i]! < mean && rng.nextFloat() < p) {
        n[i] = half;
        halved++;
      }
    }
    const kept: number[] = [];
    for (let i = 0; i < b; i++) if (n[i]! >= base) kept.push(i);
    let sum = 0;
    for (let i = 0; i < b; i++) sum += n[i]!;
    const each = Math.floor((budget - sum) / kept.length);
    for (const i of kept) {
      const add = Math.min(each, nMax - n[i]!);
      n[i] = n[i]! + add;
      sum += add;
    }
    // Remainder one unit at a time to a random kept sample, with replacement (as in the code); samples at n_max
    // are skipped, and only if every kept sample is full do the halved ones take the rest.
    while (sum < budget) {
      let pool = kept.filter((i) => n[i]! < nMax);
      if (pool.length === 0) pool = Array.from({ length: b }, (_, i) => i).filter((i) => n[i]! < nMax);
      const i = pool[Math.floor(rng.nextFloat() * pool.length)]!;
      n[i] = n[i]! + 1;
      sum++;
    }
    this.#p = p;
    this.#halved = halved;
    return fromUnits(n, bounds.granularity);
  }

  update(fb: AllocationFeedback): void {
    checkFeedback(fb, 'bernoulli', this.#step);
    this.#reward = -allocationVariance(fb.counts, fb.varianceEstimates);
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!Number.isNaN(this.#p)) Object.assign(out, { p: this.#p, halved: this.#halved });
    if (this.#reward !== undefined) out.reward = this.#reward;
    return out;
  }

  /** Stateless between steps: every draw comes from the step's seed. */
  getState(): unknown {
    return { kind: 'bernoulli', version: 1 };
  }

  setState(s: unknown): void {
    readState(s, 'bernoulli', 1);
  }
}
