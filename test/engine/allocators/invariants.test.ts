// T3 (§8): every allocator, on random batches and many seeds, returns counts that sum to N exactly, stay in
// [nMin, nMax], are even under granularity 2, and are a pure function of (request, state).
import { describe, expect, it } from 'vitest';

import {
  type AllocationRequest,
  type Allocator,
  type AllocatorConfigInput,
  BernoulliAllocator,
  createAllocator,
} from '../../../engine/allocators/index.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import { randInt, randomLosses, sum } from './helpers.ts';

const configs: AllocatorConfigInput[] = [
  { kind: 'uniform' },
  { kind: 'flops', warmupSteps: 0 },
  { kind: 'neyman' },
  { kind: 'bernoulli', pSchedule: { initialP: 0.5 } },
];

/** A random feasible request: B in 1..40, budgets that B need not divide, both granularities. */
function randomRequest(rng: Rng, seed: number): AllocationRequest {
  const b = randInt(rng, 1, 40);
  const g = randInt(rng, 1, 2) as 1 | 2;
  const nMin = g * randInt(rng, 1, 2);
  const nMax = nMin + g * randInt(rng, 0, 30);
  const budget = g * randInt(rng, (b * nMin) / g, (b * nMax) / g);
  return {
    losses: randomLosses(rng, b),
    sampleIds: Int32Array.from({ length: b }, () => randInt(rng, 0, 60)),
    budget,
    nMin,
    nMax,
    step: randInt(rng, 0, 1000),
    epoch: randInt(rng, 0, 3),
    seed: deriveSeed(seed, 7),
    granularity: g,
  };
}

/** Feeds the allocator v̂ for the batch so Neyman and FLOPS leave their initial state. */
function feed(a: Allocator, req: AllocationRequest, counts: Int32Array, rng: Rng): void {
  const varianceEstimates = Float64Array.from(req.losses, (l) => l * l * (0.5 + rng.nextFloat()));
  a.update({ counts, varianceEstimates, sampleIds: req.sampleIds });
}

describe.each(configs)('$kind allocator', (config) => {
  it('sums to N, respects [nMin, nMax] and granularity, and is deterministic, over 300 random batches', () => {
    const rng = new Rng(deriveSeed(2024, configs.indexOf(config)));
    const a = createAllocator(config);
    for (let t = 0; t < 300; t++) {
      const req = randomRequest(rng, t);
      const twin = createAllocator(config);
      twin.setState(JSON.parse(JSON.stringify(a.getState())));
      const n = a.allocate(req);
      expect(n).toBeInstanceOf(Int32Array);
      expect(n.length).toBe(req.losses.length);
      expect(sum(n)).toBe(req.budget);
      for (const ni of n) {
        expect(ni).toBeGreaterThanOrEqual(req.nMin);
        expect(ni).toBeLessThanOrEqual(req.nMax);
        expect(ni % req.granularity).toBe(0);
      }
      // Same state + same request (seed included) => same counts, from the same object and from a restored copy.
      expect(Array.from(twin.allocate(req))).toEqual(Array.from(n));
      expect(Array.from(a.allocate(req))).toEqual(Array.from(n));
      feed(a, req, n, rng);
    }
  });
});

it('the seed drives the randomised allocators: different seeds give different counts', () => {
  for (const config of [configs[1]!, configs[3]!]) {
    const a = createAllocator(config);
    const losses = Float64Array.from({ length: 16 }, (_, i) => 0.1 + (i % 5) * 0.3);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      seen.add(Array.from(a.allocate({ ...baseReq(losses), seed })).join(','));
    }
    expect(seen.size).toBeGreaterThan(5);
  }
});

function baseReq(losses: Float64Array): AllocationRequest {
  const b = losses.length;
  return {
    losses,
    sampleIds: Int32Array.from({ length: b }, (_, i) => i),
    budget: 10 * b,
    nMin: 1,
    nMax: 40,
    step: 100,
    epoch: 0,
    seed: 0,
    granularity: 1,
  };
}

describe('Bernoulli re-implementation of the reference heuristic (§3.6)', () => {
  const losses = Float64Array.of(0.1, 0.2, 0.3, 2.0, 0.05, 1.5, 0.4, 0.8);
  const always = new BernoulliAllocator({
    kind: 'bernoulli',
    pSchedule: { initialP: 1, initialEpochs: 1, laterP: 1 },
  });

  it('with p = 1 gives [5,5,5,18,5,18,5,18] plus exactly one +1 on row 3, 5 or 7', () => {
    const hit = new Map<number, number>();
    for (let seed = 0; seed < 300; seed++) {
      const n = always.allocate({ ...baseReq(losses), seed });
      const extra = Array.from(n, (ni, i) => ni - [5, 5, 5, 18, 5, 18, 5, 18][i]!);
      expect(extra.filter((e) => e !== 0)).toEqual([1]);
      const at = extra.indexOf(1);
      expect([3, 5, 7]).toContain(at);
      hit.set(at, (hit.get(at) ?? 0) + 1);
    }
    // The leftover unit goes to a uniformly random kept sample: each of the three gets about 100 of 300.
    for (const row of [3, 5, 7]) expect(hit.get(row)!).toBeGreaterThan(70);
    expect(always.snapshot()).toMatchObject({ p: 1, halved: 5 });
  });

  it('uses p = 0.3 in the first epoch and 0.01 after (trainer_a.py:130-133)', () => {
    const a = createAllocator({ kind: 'bernoulli' });
    const rate = (epoch: number): number => {
      let halved = 0;
      for (let seed = 0; seed < 2000; seed++) {
        a.allocate({ ...baseReq(losses), seed, epoch });
        halved += a.snapshot().halved!;
      }
      return halved / (2000 * 5); // five below-mean samples per batch
    };
    expect(rate(0)).toBeCloseTo(0.3, 1);
    expect(rate(1)).toBeLessThan(0.02);
  });

  it('never halves tied losses, even when their float mean is above them', () => {
    const tied = new Float64Array(3).fill(0.1); // (0.1 + 0.1 + 0.1) / 3 = 0.10000000000000002
    expect(Array.from(always.allocate({ ...baseReq(tied), budget: 30 }))).toEqual([10, 10, 10]);
  });
});
