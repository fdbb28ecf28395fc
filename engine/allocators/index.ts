// One factory for every query allocator, configured by a typed union whose `kind` matches the training config's
// `allocator.kind` (engine/config.ts). Fields left out take the defaults of §3.4, §4.2 and §6; the resolved config
// is what a run should record.
import { ConfigError } from '../errors.ts';
import { BERNOULLI_DEFAULTS, BernoulliAllocator, type BernoulliConfig } from './bernoulli.ts';
import { FLOPS_DEFAULTS, FlopsAllocator, type FlopsConfig } from './flops.ts';
import { NEYMAN_DEFAULTS, NeymanAllocator, type NeymanConfig, type NeymanOptions } from './neyman.ts';
import type { Allocator } from './types.ts';
import { UniformAllocator } from './uniform.ts';

export interface UniformConfig {
  kind: 'uniform';
}

export type AllocatorConfig = UniformConfig | FlopsConfig | NeymanConfig | BernoulliConfig;

/** A config as a user or the training config gives it: `kind` plus any subset of that allocator's fields. */
export type AllocatorConfigInput =
  | UniformConfig
  | ({ kind: 'flops' } & Partial<Omit<FlopsConfig, 'kind'>>)
  | ({ kind: 'neyman' } & Partial<Omit<NeymanConfig, 'kind'>>)
  | ({ kind: 'bernoulli' } & { pSchedule?: Partial<BernoulliConfig['pSchedule']> });

/** Fills defaults (fields set to undefined count as absent). Validation happens in the allocator constructors. */
export function resolveAllocatorConfig(input: AllocatorConfigInput): AllocatorConfig {
  const defined = <T extends object>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  switch (input.kind) {
    case 'uniform':
      return { kind: 'uniform' };
    case 'flops':
      return { ...FLOPS_DEFAULTS, ...defined(input), kind: 'flops' };
    case 'neyman':
      return { ...NEYMAN_DEFAULTS, ...defined(input), kind: 'neyman' };
    case 'bernoulli':
      return {
        kind: 'bernoulli',
        pSchedule: { ...BERNOULLI_DEFAULTS.pSchedule, ...defined(input.pSchedule ?? {}) },
      };
    default: {
      const kind = (input as { kind?: unknown }).kind;
      throw new ConfigError('allocator.kind', `unknown allocator "${String(kind)}"`);
    }
  }
}

/** Builds the allocator a config names. `options` reach only the Neyman allocator (its test/bench oracle). */
export function createAllocator(config: AllocatorConfigInput, options: NeymanOptions = {}): Allocator {
  const c = resolveAllocatorConfig(config);
  switch (c.kind) {
    case 'uniform':
      return new UniformAllocator();
    case 'flops':
      return new FlopsAllocator(c);
    case 'neyman':
      return new NeymanAllocator(c, options);
    case 'bernoulli':
      return new BernoulliAllocator(c);
  }
}

export type { AllocationFeedback, AllocationRequest, Allocator, AllocatorName } from './types.ts';
export { BERNOULLI_DEFAULTS, BernoulliAllocator, bernoulliP } from './bernoulli.ts';
export type { BernoulliConfig, BernoulliSchedule } from './bernoulli.ts';
export { FLOPS_DEFAULTS, FlopsAllocator, gaussianLogDensity, PHI_NAMES, scoreGradient } from './flops.ts';
export type { FlopsConfig } from './flops.ts';
export { NEYMAN_DEFAULTS, NeymanAllocator } from './neyman.ts';
export type { NeymanConfig, NeymanOptions } from './neyman.ts';
export { UniformAllocator } from './uniform.ts';
export { integerise, largestRemainder, uniformCounts, waterFill } from './integerise.ts';
export type { Bounds, ShareForm } from './integerise.ts';
export { standardise } from './request.ts';
export { allocationVariance, neymanOptimum } from './variance.ts';
