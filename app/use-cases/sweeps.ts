// Sweeps: a grid over learning rate, perturbation scale, query budget, allocator and seed, expanded into ordinary
// runs that share a `sweep:<name>` tag. Every combination is validated before any run is created, so a sweep is
// created whole or not at all; the queue then runs them one by one in grid order.
import { z } from 'zod';

import { InvalidConfigError } from '../../engine/config.ts';
import { ConfigError } from '../../engine/errors.ts';
import type { AppContext } from '../context.ts';
import type { Run } from '../db/runs.ts';
import type { RunSpecInput } from '../runs/spec.ts';
import { applyPreset, mergeSpec, PRESET_NAMES } from './presets.ts';
import { createRun, validateRun } from './runs.ts';
import { parseArgs } from './validate.ts';

const nonEmpty = <T extends z.ZodType>(t: T) => z.array(t).min(1).max(50).optional();

const sweepArgs = z.object({
  /** The spec every run starts from (model, dataset, mode, train ...). */
  base: z.custom<RunSpecInput>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'must be an object',
  }),
  preset: z.enum(PRESET_NAMES).optional(),
  grid: z.object({
    lr: nonEmpty(z.number().positive()),
    /** spsaEps for SPSA/ES, lrSigma for LR. */
    eps: nonEmpty(z.number().positive()),
    budget: nonEmpty(z.number().int().positive()),
    allocator: nonEmpty(z.enum(['uniform', 'flops', 'neyman', 'bernoulli'])),
    seed: nonEmpty(z.number().int().nonnegative().max(0xffffffff)),
  }),
  /** Names the runs and their shared tag (default: sweep-<timestamp>). */
  name: z.string().trim().min(1).max(64).optional(),
  /** Queue the runs at once (default). */
  start: z.boolean().default(true),
});

export type CreateSweepArgs = z.input<typeof sweepArgs>;

export interface SweepPoint {
  lr?: number;
  eps?: number;
  budget?: number;
  allocator?: 'uniform' | 'flops' | 'neyman' | 'bernoulli';
  seed?: number;
}

export interface Sweep {
  name: string;
  tag: string;
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

export async function createSweep(ctx: AppContext, args: CreateSweepArgs): Promise<Sweep> {
  const a = parseArgs('sweep/create', sweepArgs, args);
  const name = a.name ?? `sweep-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  const tag = `sweep:${name}`;
  const points = gridPoints(a.grid);
  if (points.length > MAX_RUNS) {
    throw new InvalidConfigError([new ConfigError('grid', `${points.length} runs; at most ${MAX_RUNS}`)]);
  }
  const base = applyPreset(a.preset, a.base) as RunSpecInput;
  const specs = points.map((p) => {
    const spec = pointSpec(base, p) as RunSpecInput;
    return { ...spec, name: `${name} ${pointLabel(p)}`.trim(), tags: [...(spec.tags ?? []), tag] };
  });
  // All or nothing: a bad value in one combination names the combination and the field.
  const problems: ConfigError[] = [];
  for (const [i, spec] of specs.entries()) {
    const checked = await validateRun(ctx, { spec });
    if (!checked.ok) {
      for (const issue of checked.issues) {
        problems.push(
          new ConfigError(`runs[${i}] (${pointLabel(points[i] ?? {})}).${issue.field}`, issue.message),
        );
      }
    }
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  const runs: Run[] = [];
  for (const spec of specs) runs.push(await createRun(ctx, { spec, start: a.start }));
  return { name, tag, points, runs };
}
