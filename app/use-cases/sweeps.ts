// Sweeps: a grid, or N random trials, over learning rate, perturbation scale, query budget, allocator and seed,
// expanded into ordinary runs that share a `sweep:<name>` tag. Every combination is validated before any run is
// created, so a sweep is created whole or not at all; the queue then runs them one by one in order.
//
// Random trials are drawn from the sweep seed alone: trial t, dimension k uses its own stream
// Rng(deriveSeed(seed, RANDOM_TAG, t, k)), so the same seed gives the same trials on every machine, the first N trials
// of a longer sweep are the N-trial sweep, and adding a dimension does not move the values of the others.
import { z } from 'zod';

import { InvalidConfigError } from '../../engine/config.ts';
import { uniformInt } from '../../engine/data/splits.ts';
import { ConfigError } from '../../engine/errors.ts';
import { deriveSeed, Rng } from '../../engine/rng.ts';
import type { AppContext } from '../context.ts';
import type { Run } from '../db/runs.ts';
import type { RunSpecInput } from '../runs/spec.ts';
import { applyPreset, mergeSpec, PRESET_NAMES } from './presets.ts';
import { createRun, validateRun } from './runs.ts';
import { InvalidArgumentsError, parseArgs } from './validate.ts';

/** Dimension order: fixes each one's stream index k, so it must never be reordered (only appended to). */
const DIMENSIONS = ['lr', 'eps', 'budget', 'allocator', 'seed'] as const;
/** Seed-path tag of random sweep draws ('SWEP'). */
const RANDOM_TAG = 0x53574550;

const nonEmpty = <T extends z.ZodType>(t: T) => z.array(t).min(1).max(50).optional();

const ALLOCATORS = ['uniform', 'flops', 'neyman', 'bernoulli'] as const;
const lrValue = z.number().positive();
// Integers through refine, not .int(): zod reports .int() as a type mismatch, which hides which member of a
// range-or-list union was meant behind a bare "Invalid input".
const integer = { message: 'must be an integer' };
const budgetValue = z.number().positive().refine(Number.isInteger, integer);
const seedValue = z.number().nonnegative().max(0xffffffff).refine(Number.isInteger, integer);

/** A closed range [min, max]; min > max is reported on the range's own field. */
const range = (value: z.ZodNumber) =>
  z
    .object({ min: value, max: value })
    .refine((r) => r.min <= r.max, { message: 'min must not be above max', path: ['max'] });

/**
 * A random dimension: a range (log-uniform for lr/eps, integer-uniform for budget/seed) or values to choose from.
 * Dispatched on the value's shape rather than through z.union: a union whose branches both fail on a type (a null,
 * NaN or infinite min from a form) reported only "expected a range or a list" on the dimension, not naming min/max.
 */
const dimension = (value: z.ZodNumber) => {
  const asRange = range(value);
  const asList = z.array(value).min(1).max(50);
  type Dim = z.output<typeof asRange> | z.output<typeof asList>;
  return z
    .custom<Dim>(() => true)
    .transform((v, check): Dim => {
      const isRange = typeof v === 'object' && v !== null && !Array.isArray(v);
      if (!isRange && !Array.isArray(v)) {
        check.addIssue({ code: 'custom', message: 'expected a range {min, max} or a list of values' });
        return z.NEVER;
      }
      const parsed = isRange ? asRange.safeParse(v) : asList.safeParse(v);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) {
        check.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      }
      return z.NEVER;
    });
};

const common = {
  /** The spec every run starts from (model, dataset, mode, train ...). */
  base: z.custom<RunSpecInput>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'must be an object',
  }),
  preset: z.enum(PRESET_NAMES).optional(),
  /** Names the runs and their shared tag (default: sweep-<timestamp>). */
  name: z.string().trim().min(1).max(64).optional(),
  /** Queue the runs at once (default). */
  start: z.boolean().default(true),
};

const gridSweep = z.object({
  /** Optional for the callers that predate random sweeps. */
  kind: z.literal('grid').optional(),
  ...common,
  grid: z.object({
    lr: nonEmpty(lrValue),
    /** spsaEps for SPSA/ES, lrSigma for LR. */
    eps: nonEmpty(lrValue),
    budget: nonEmpty(budgetValue),
    allocator: nonEmpty(z.enum(ALLOCATORS)),
    seed: nonEmpty(seedValue),
  }),
});

const randomSweep = z.object({
  kind: z.literal('random'),
  ...common,
  random: z
    .object({
      /** How many runs. */
      trials: z.number().int().positive().max(500),
      /** The sweep seed every draw derives from (not a run seed). */
      sweepSeed: seedValue.default(0),
      /** Log-uniform over a range, or a uniform choice among values. */
      lr: dimension(lrValue).optional(),
      /** spsaEps for SPSA/ES, lrSigma for LR; log-uniform over a range, or a choice. */
      eps: dimension(lrValue).optional(),
      /** Integer-uniform over [min, max], or a choice. */
      budget: dimension(budgetValue).optional(),
      allocator: z.array(z.enum(ALLOCATORS)).min(1).max(4).optional(),
      /** Run seeds: integer-uniform over [min, max], or a choice. */
      seed: dimension(seedValue).optional(),
    })
    .refine((r) => DIMENSIONS.some((k) => r[k] !== undefined), {
      message: 'declare at least one of lr, eps, budget, allocator, seed (else every trial is the same run)',
    }),
});

const sweepArgs = z.discriminatedUnion('kind', [gridSweep, randomSweep]);

export type CreateSweepArgs = z.input<typeof sweepArgs>;
export type RandomSpace = z.output<typeof randomSweep>['random'];

export interface SweepPoint {
  lr?: number;
  eps?: number;
  budget?: number;
  allocator?: (typeof ALLOCATORS)[number];
  seed?: number;
}

export interface Sweep {
  name: string;
  tag: string;
  kind: 'grid' | 'random';
  points: SweepPoint[];
  runs: Run[];
}

const MAX_RUNS = 500;

/** The grid's points in row-major order (the last axis varies fastest). */
export function gridPoints(grid: { [K in keyof SweepPoint]?: SweepPoint[K][] }): SweepPoint[] {
  let points: SweepPoint[] = [{}];
  for (const key of ['allocator', 'budget', 'lr', 'eps', 'seed'] as const) {
    const values = grid[key];
    if (!values) continue;
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}

/** Rounds a drawn rate to 4 significant digits (readable names, exact JSON), kept inside its range. */
function round4(x: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Number(x.toPrecision(4))));
}

/** Trial t's point: each declared dimension drawn from its own stream (see the header). */
export function randomPoints(space: RandomSpace): SweepPoint[] {
  const points: SweepPoint[] = [];
  for (let t = 0; t < space.trials; t++) {
    const point: SweepPoint = {};
    DIMENSIONS.forEach((key, k) => {
      const dim = space[key];
      if (dim === undefined) return;
      const rng = new Rng(deriveSeed(space.sweepSeed, RANDOM_TAG, t, k));
      if (Array.isArray(dim)) {
        (point as Record<string, unknown>)[key] = dim[uniformInt(rng, dim.length)];
      } else if (key === 'lr' || key === 'eps') {
        // Log-uniform: rates matter by order of magnitude, so each decade gets the same share of trials.
        const lo = Math.log(dim.min);
        const x = Math.exp(lo + rng.nextFloat() * (Math.log(dim.max) - lo));
        point[key] = round4(x, dim.min, dim.max);
      } else {
        point[key as 'budget' | 'seed'] = dim.min + uniformInt(rng, dim.max - dim.min + 1);
      }
    });
    points.push(point);
  }
  return points;
}

function pointSpec(base: unknown, p: SweepPoint): unknown {
  const estimator = (base as { train?: { estimator?: string } }).train?.estimator ?? 'spsa';
  const train: Record<string, unknown> = {};
  if (p.lr !== undefined) train.optimizer = { lr: p.lr };
  if (p.eps !== undefined) train[estimator === 'lr' ? 'lrSigma' : 'spsaEps'] = p.eps;
  if (p.budget !== undefined) train.budgetPerSample = p.budget;
  if (p.allocator !== undefined) train.allocator = { kind: p.allocator };
  if (p.seed !== undefined) train.seed = p.seed;
  return mergeSpec(base, { train });
}

function pointLabel(p: SweepPoint): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

interface SweepPlan {
  name: string;
  tag: string;
  kind: 'grid' | 'random';
  points: SweepPoint[];
  specs: RunSpecInput[];
  start: boolean;
}

/** Expands the arguments into the runs' specs (nothing is validated against the store or created yet). */
function planSweep(handler: string, args: CreateSweepArgs): SweepPlan {
  const a = parseArgs(handler, sweepArgs, args);
  const name = a.name ?? `sweep-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  const tag = `sweep:${name}`;
  const kind = a.kind ?? 'grid';
  const points = a.kind === 'random' ? randomPoints(a.random) : gridPoints(a.grid);
  if (points.length > MAX_RUNS) {
    throw new InvalidConfigError([new ConfigError('grid', `${points.length} runs; at most ${MAX_RUNS}`)]);
  }
  const base = applyPreset(a.preset, a.base) as RunSpecInput;
  const specs = points.map((p, i) => {
    const spec = pointSpec(base, p) as RunSpecInput;
    // Random trials may repeat a point; the trial number keeps their names apart.
    const label = kind === 'random' ? `#${i + 1} ${pointLabel(p)}` : pointLabel(p);
    return { ...spec, name: `${name} ${label}`.trim(), tags: [...(spec.tags ?? []), tag] };
  });
  return { name, tag, kind, points, specs, start: a.start };
}

/** Every combination checked by run/validate; one bad value names its combination and the field. */
async function sweepProblems(
  ctx: AppContext,
  plan: SweepPlan,
): Promise<{ field: string; message: string }[]> {
  const problems: { field: string; message: string }[] = [];
  for (const [i, spec] of plan.specs.entries()) {
    const checked = await validateRun(ctx, { spec });
    if (!checked.ok) {
      for (const issue of checked.issues) {
        problems.push({
          field: `runs[${i}] (${pointLabel(plan.points[i] ?? {})}).${issue.field}`,
          message: issue.message,
        });
      }
    }
  }
  return problems;
}

export interface SweepPreview {
  name: string;
  tag: string;
  kind: 'grid' | 'random';
  /** The points sweep/create would create, in the same order (random draws included). */
  points: SweepPoint[];
  /** The run names sweep/create would give them. */
  names: string[];
  /** What sweep/create would refuse, by field (`runs[i] (...).train.x`); empty when it would create them all. */
  issues: { field: string; message: string }[];
}

/**
 * What sweep/create would create for the same arguments, without creating anything: the same expansion (so a
 * random sweep's preview lists exactly the trials it draws) and the same validation. Like run/validate it answers
 * with issues rather than throwing, for forms: bad arguments by field (`random.lr.max`), bad trials by trial and
 * field (`runs[i] (...).train.x`); then `points` is empty for the former.
 */
export async function previewSweep(ctx: AppContext, args: CreateSweepArgs): Promise<SweepPreview> {
  let plan: SweepPlan;
  try {
    plan = planSweep('sweep/preview', args);
  } catch (error) {
    if (!(error instanceof InvalidArgumentsError || error instanceof InvalidConfigError)) throw error;
    const kind = (args as { kind?: string } | null)?.kind === 'random' ? 'random' : 'grid';
    const issues =
      error instanceof InvalidArgumentsError
        ? error.issues
        : error.issues.map((i) => ({ field: i.field, message: i.message.replace(`${i.field}: `, '') }));
    return { name: '', tag: '', kind, points: [], names: [], issues };
  }
  const problems = await sweepProblems(ctx, plan);
  return {
    name: plan.name,
    tag: plan.tag,
    kind: plan.kind,
    points: plan.points,
    names: plan.specs.map((s) => s.name ?? ''),
    issues: problems,
  };
}

export async function createSweep(ctx: AppContext, args: CreateSweepArgs): Promise<Sweep> {
  const plan = planSweep('sweep/create', args);
  // All or nothing: a bad value in one combination names the combination and the field.
  const problems = await sweepProblems(ctx, plan);
  if (problems.length > 0) {
    throw new InvalidConfigError(problems.map((p) => new ConfigError(p.field, p.message)));
  }
  const runs: Run[] = [];
  for (const spec of plan.specs) runs.push(await createRun(ctx, { spec, start: plan.start }));
  return { name: plan.name, tag: plan.tag, kind: plan.kind, points: plan.points, runs };
}
