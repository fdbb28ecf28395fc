import { expect, it } from 'vitest';

import {
  type AllocatorConfigInput,
  BernoulliAllocator,
  createAllocator,
  FLOPS_DEFAULTS,
  FlopsAllocator,
  NeymanAllocator,
  resolveAllocatorConfig,
  UniformAllocator,
} from '../../../engine/allocators/index.ts';
import { ConfigError } from '../../../engine/errors.ts';
import { request } from './helpers.ts';

it('builds each allocator by kind and fills the spec defaults', () => {
  expect(createAllocator({ kind: 'uniform' })).toBeInstanceOf(UniformAllocator);
  expect(createAllocator({ kind: 'flops' })).toBeInstanceOf(FlopsAllocator);
  expect(createAllocator({ kind: 'neyman' })).toBeInstanceOf(NeymanAllocator);
  expect(createAllocator({ kind: 'bernoulli' })).toBeInstanceOf(BernoulliAllocator);
  expect(resolveAllocatorConfig({ kind: 'flops', lr: 0.05, warmupSteps: undefined })).toEqual({
    kind: 'flops',
    alpha0: 1,
    beta0: 3,
    c0: 1,
    h0: 1,
    lr: 0.05,
    warmupSteps: 50,
    rewardBaselineDecay: 0.9,
    jitter: 1e-3,
    reward: 'variance',
  });
  expect(resolveAllocatorConfig({ kind: 'neyman' })).toEqual({ kind: 'neyman', decay: 0.9, floor: 0.01 });
  expect(resolveAllocatorConfig({ kind: 'bernoulli', pSchedule: { laterP: 0 } })).toEqual({
    kind: 'bernoulli',
    pSchedule: { initialP: 0.3, initialEpochs: 1, laterP: 0 },
  });
  const flops = createAllocator({ kind: 'flops' });
  expect(flops.name).toBe('flops');
  expect(flops.snapshot()).toEqual({ alpha: 1, beta: 3, logC: 0, logH: 0, warm: 1 });
  expect((flops as FlopsAllocator).config).toEqual({ kind: 'flops', ...FLOPS_DEFAULTS });
});

it('refuses an unknown kind and bad fields with a ConfigError naming the field', () => {
  expect(() => createAllocator({ kind: 'greedy' } as unknown as AllocatorConfigInput)).toThrow(
    /allocator\.kind: unknown allocator "greedy"/,
  );
  expect(() => createAllocator({ kind: 'neyman', floor: -1 })).toThrow(ConfigError);
  expect(() => createAllocator({ kind: 'bernoulli', pSchedule: { initialP: 2 } })).toThrow(
    /allocator\.pSchedule\.initialP: must be a probability/,
  );
});

it('the uniform allocator reports the reward −V̂ of its counts', () => {
  const a = createAllocator({ kind: 'uniform' });
  const n = a.allocate(request(Float64Array.of(NaN, 1), { budget: 5 })); // losses are not read
  expect(Array.from(n)).toEqual([3, 2]);
  a.update({ counts: n, varianceEstimates: Float64Array.of(3, 4), sampleIds: Int32Array.of(0, 1) });
  expect(a.snapshot()).toEqual({ reward: -(3 / 3 + 4 / 2) / 4 });
  expect(() => a.setState({ kind: 'flops', version: 1 })).toThrow(ConfigError);
});
