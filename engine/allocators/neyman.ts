// Neyman allocation (§3.2): n_i ∝ √v_i, clipped to [n_min, n_max] by water-filling, the exact optimum of
// min Σ v_i/n_i when v is known. Here v is not known before the queries are made, so each sample's v̂ from its
// previous visits is kept in a running EMA keyed by dataset index; a sample not seen yet gets the batch mean of
// the seen ones (so a fresh epoch-1 batch is allocated uniformly). This is the "estimate v, then allocate"
// alternative to FLOPS's learned allocator, and with an oracle for v it is the yardstick FLOPS is measured against.
import { ConfigError } from '../errors.ts';
import { integerise } from './integerise.ts';
import { checkFeedback, checkRequest, readState, stateNumbers } from './request.ts';
import type { AllocationFeedback, AllocationRequest, Allocator } from './types.ts';
import { allocationVariance } from './variance.ts';

export interface NeymanConfig {
  kind: 'neyman';
  /** EMA decay of a sample's running v̂: v ← decay·v + (1 − decay)·v̂ at each revisit (about once per epoch). */
  decay: number;
  /**
   * Relative floor on the variances used for the weights: v_i ← max(v_i, floor · batch mean v). A sample whose
   * one past estimate happened to be ~0 would otherwise be pinned to n_min for good, since it only gets a new
   * estimate from the few queries it is given.
   */
  floor: number;
}

export const NEYMAN_DEFAULTS: Omit<NeymanConfig, 'kind'> = { decay: 0.9, floor: 0.01 };

export function checkNeymanConfig(c: NeymanConfig): void {
  if (!(c.decay >= 0 && c.decay < 1))
    throw new ConfigError('allocator.decay', `must be in [0, 1), got ${c.decay}`);
  if (!(c.floor >= 0 && c.floor <= 1))
    throw new ConfigError('allocator.floor', `must be in [0, 1], got ${c.floor}`);
}

export interface NeymanOptions {
  /** Test/bench mode: the true per-query variances of the batch rows, used instead of the running estimates. */
  oracle?: (sampleIds: Int32Array) => ArrayLike<number>;
}

export class NeymanAllocator implements Allocator {
  readonly name = 'neyman';
  readonly config: NeymanConfig;
  readonly #oracle: NeymanOptions['oracle'];
  readonly #v = new Map<number, number>();
  #step = 0;
  #seen = 0;
  #reward: number | undefined;

  constructor(config: NeymanConfig, options: NeymanOptions = {}) {
    checkNeymanConfig(config);
    this.config = config;
    this.#oracle = options.oracle;
  }

  /** The variances the next allocation of these samples would use (before the floor). */
  variancesFor(sampleIds: Int32Array): Float64Array {
    const b = sampleIds.length;
    if (this.#oracle) {
      const v = this.#oracle(sampleIds);
      if (v.length !== b)
        throw new ConfigError('allocator.oracle', `returned ${v.length} variances for ${b} rows`);
      for (let i = 0; i < b; i++) {
        if (!(v[i]! >= 0) || !Number.isFinite(v[i]!)) {
          throw new ConfigError('allocator.oracle', `variance of row ${i} is ${v[i]}`);
        }
      }
      return Float64Array.from(v);
    }
    const v = new Float64Array(b).fill(Number.NaN);
    let sum = 0;
    let seen = 0;
    for (let i = 0; i < b; i++) {
      const known = this.#v.get(sampleIds[i]!);
      if (known !== undefined) {
        v[i] = known;
        sum += known;
        seen++;
      }
    }
    const fallback = seen > 0 ? sum / seen : 1; // nothing seen yet: equal weights, i.e. uniform
    for (let i = 0; i < b; i++) if (Number.isNaN(v[i]!)) v[i] = fallback;
    this.#seen = seen;
    return v;
  }

  allocate(req: AllocationRequest): Int32Array {
    // The losses are not read: Neyman weighs by past variance estimates, not by the current loss.
    const bounds = checkRequest(req, 'neyman', false);
    this.#step = req.step;
    const v = this.variancesFor(req.sampleIds);
    let mean = 0;
    for (const vi of v) mean += vi;
    mean /= v.length;
    const w = v.map((vi) => Math.sqrt(Math.max(vi, this.config.floor * mean)));
    return integerise(w, bounds, 'proportional');
  }

  update(fb: AllocationFeedback): void {
    checkFeedback(fb, 'neyman', this.#step);
    const d = this.config.decay;
    for (let i = 0; i < fb.sampleIds.length; i++) {
      const id = fb.sampleIds[i]!;
      const vhat = fb.varianceEstimates[i]!;
      const old = this.#v.get(id);
      this.#v.set(id, old === undefined ? vhat : d * old + (1 - d) * vhat);
    }
    this.#reward = -allocationVariance(fb.counts, fb.varianceEstimates);
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = { tracked: this.#v.size, seenInBatch: this.#seen };
    if (this.#reward !== undefined) out.reward = this.#reward;
    return out;
  }

  /** The running variances as parallel arrays (JSON has no Map). */
  getState(): unknown {
    return { kind: 'neyman', version: 1, ids: [...this.#v.keys()], v: [...this.#v.values()] };
  }

  setState(s: unknown): void {
    const o = readState(s, 'neyman', 1);
    const ids = stateNumbers(o, 'ids');
    const v = stateNumbers(o, 'v', ids.length);
    if (!ids.every(Number.isInteger) || !v.every((x) => x >= 0)) {
      throw new ConfigError('allocator.state', 'ids must be integers and variances ≥ 0');
    }
    this.#v.clear();
    ids.forEach((id, i) => this.#v.set(id, v[i]!));
  }
}
