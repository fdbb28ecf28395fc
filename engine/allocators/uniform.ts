// n_i = N/B: the baseline every other allocator must beat (§3.2's V_uniform), and what FLOPS falls back to during
// warm-up. Deterministic: when B does not divide N the extra units go to the lowest batch rows.
import { allocationVariance } from './variance.ts';
import { uniformCounts } from './integerise.ts';
import { checkFeedback, checkRequest, readState } from './request.ts';
import type { AllocationFeedback, AllocationRequest, Allocator } from './types.ts';

export class UniformAllocator implements Allocator {
  readonly name = 'uniform';
  #step = 0;
  #reward: number | undefined;

  allocate(req: AllocationRequest): Int32Array {
    // Losses are not read, so a NaN loss is left for the training loop's own divergence check.
    const bounds = checkRequest(req, 'uniform', false);
    this.#step = req.step;
    return uniformCounts(req.losses.length, bounds);
  }

  /** Only records the reward −V(n) so runs with a uniform allocator report the same metric as FLOPS. */
  update(fb: AllocationFeedback): void {
    checkFeedback(fb, 'uniform', this.#step);
    this.#reward = -allocationVariance(fb.counts, fb.varianceEstimates);
  }

  snapshot(): Record<string, number> {
    return this.#reward === undefined ? {} : { reward: this.#reward };
  }

  getState(): unknown {
    return { kind: 'uniform', version: 1 };
  }

  setState(s: unknown): void {
    readState(s, 'uniform', 1);
  }
}
