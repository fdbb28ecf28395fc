// The study's grid and settings: which trainable modes, estimators, budgets, allocators and seeds run, how many
// queries each run may spend, and how the gradient variance is measured. `resolveStudyOptions` fills defaults; the
// quick preset is what CI and the bench run. Every resolved value is written to results.json with the numbers.
import type { AllocatorConfigInput } from '../../engine/allocators/index.ts';
import type { TrainMode } from '../../engine/models/vit/index.ts';

export type StudyEstimator = 'spsa' | 'lr';
export type StudyAllocator = 'uniform' | 'flops' | 'neyman' | 'bernoulli';
export type StudyModeName = 'head' | 'lora';

export const ALLOCATORS: readonly StudyAllocator[] = ['uniform', 'flops', 'neyman', 'bernoulli'];
export const ESTIMATORS: readonly StudyEstimator[] = ['spsa', 'lr'];
export const MODES: readonly StudyModeName[] = ['head', 'lora'];

/** The trainable modes as the run spec takes them. LoRA: rank 4, alpha 8 on q and v of the last block (+ head). */
export const MODE_SPECS: Record<StudyModeName, TrainMode> = {
  head: { kind: 'head' },
  lora: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'], lastK: 1 },
};

export interface ModeSettings {
  /** Estimator queries (forward rows the estimator spends, the engine's `queries`) each run may spend. */
  queryBudget: Record<StudyEstimator, number>;
  /** Parameter snapshots at which the gradient variance is measured. */
  snapshots: number;
  /** Independent gradient estimates per allocator and snapshot. */
  draws: number;
}

export interface StudyOptions {
  /** Data folder holding the store (flops.db); the runs land there, tagged 'study'. */
  dataDir: string;
  /** Report folder; default <dataDir>/study-<timestamp>. */
  out?: string;
  /** A stored model id; default the bundled tiny ViT. */
  modelId?: number;
  /** A stored dataset version id; default the bundled Fashion-MNIST subset. */
  datasetVersionId?: string;
  quick?: boolean;
  modes?: readonly StudyModeName[];
  estimators?: readonly StudyEstimator[];
  /** Nominal budgets per sample n̄. LR uses antithetic pairs, so an odd n̄ runs as n̄ + 1 (see lrBudget). */
  budgets?: readonly number[];
  allocators?: readonly StudyAllocator[];
  seeds?: readonly number[];
  batchSize?: number;
  /** Adam step size on θ. */
  lr?: number;
  spsaEps?: number;
  lrSigma?: number;
  /** Steps of uniform allocation before the FLOPS allocator starts allocating (the engine's default is 20). */
  flopsWarmupSteps?: number;
  /** Target accuracy = targetFraction × the best final accuracy of the uniform runs at the largest budget. */
  targetFraction?: number;
  /** Evaluations per run (evenly spaced in steps), the resolution of queries-to-target. */
  evalsPerRun?: number;
  head?: Partial<ModeSettings>;
  lora?: Partial<ModeSettings>;
  /** Render PNGs (tests of the tables alone may skip them). Default true. */
  plots?: boolean;
  log?: (line: string) => void;
}

export interface ResolvedStudyOptions {
  dataDir: string;
  out: string | undefined;
  modelId: number | undefined;
  datasetVersionId: string | undefined;
  quick: boolean;
  modes: StudyModeName[];
  estimators: StudyEstimator[];
  budgets: number[];
  allocators: StudyAllocator[];
  seeds: number[];
  batchSize: number;
  lr: number;
  spsaEps: number;
  lrSigma: number;
  flopsWarmupSteps: number;
  targetFraction: number;
  evalsPerRun: number;
  settings: Record<StudyModeName, ModeSettings>;
  plots: boolean;
}

// Query budgets are multiples of every per-step spend (SPSA: 2·B·n̄ rows, LR: B·n̄ rows at B = 32), so every
// budget of a row spends exactly the same queries: SPSA 256,000 = 1280·200, LR 115,200 = 1920·60.
const FULL: Record<StudyModeName, ModeSettings> = {
  head: { queryBudget: { spsa: 256_000, lr: 115_200 }, snapshots: 5, draws: 128 },
  lora: { queryBudget: { spsa: 96_000, lr: 115_200 }, snapshots: 3, draws: 30 },
};

const QUICK: Record<StudyModeName, ModeSettings> = {
  head: { queryBudget: { spsa: 64_000, lr: 32_000 }, snapshots: 3, draws: 64 },
  lora: { queryBudget: { spsa: 12_800, lr: 12_800 }, snapshots: 2, draws: 8 },
};

export function resolveStudyOptions(o: StudyOptions): ResolvedStudyOptions {
  const quick = o.quick ?? false;
  const base = quick ? QUICK : FULL;
  const resolved: ResolvedStudyOptions = {
    dataDir: o.dataDir,
    out: o.out,
    modelId: o.modelId,
    datasetVersionId: o.datasetVersionId,
    quick,
    modes: [...(o.modes ?? (quick ? ['head'] : MODES))],
    estimators: [...(o.estimators ?? ESTIMATORS)],
    budgets: [...(o.budgets ?? (quick ? [10] : [2, 5, 10, 20]))].sort((a, b) => a - b),
    allocators: [...(o.allocators ?? ALLOCATORS)],
    seeds: [...(o.seeds ?? (quick ? [0] : [0, 1, 2]))],
    batchSize: o.batchSize ?? 32,
    lr: o.lr ?? 0.01,
    spsaEps: o.spsaEps ?? 1e-2,
    lrSigma: o.lrSigma ?? 0.1,
    flopsWarmupSteps: o.flopsWarmupSteps ?? 20,
    targetFraction: o.targetFraction ?? 0.95,
    evalsPerRun: o.evalsPerRun ?? (quick ? 50 : 40),
    settings: {
      head: { ...base.head, ...o.head },
      lora: { ...base.lora, ...o.lora },
    },
    plots: o.plots ?? true,
  };
  const bad = (msg: string): never => {
    throw new RangeError(`study options: ${msg}`);
  };
  if (resolved.modes.length === 0 || resolved.modes.some((m) => !MODES.includes(m))) bad('modes');
  if (resolved.estimators.length === 0 || resolved.estimators.some((e) => !ESTIMATORS.includes(e)))
    bad('estimators');
  if (resolved.allocators.length === 0 || resolved.allocators.some((a) => !ALLOCATORS.includes(a)))
    bad('allocators');
  if (!resolved.allocators.includes('uniform')) bad('allocators must include uniform (the reference)');
  if (resolved.budgets.length === 0 || resolved.budgets.some((b) => !Number.isInteger(b) || b < 1))
    bad('budgets must be positive integers');
  if (resolved.seeds.length === 0 || resolved.seeds.some((s) => !Number.isInteger(s) || s < 0))
    bad('seeds must be non-negative integers');
  if (!(resolved.targetFraction > 0 && resolved.targetFraction <= 1)) bad('targetFraction must be in (0, 1]');
  return resolved;
}

/** LR queries come in antithetic pairs: n̄ must be even, so an odd nominal budget runs as n̄ + 1 (5 → 6). */
export function lrBudget(nominal: number): number {
  return nominal % 2 === 0 ? nominal : nominal + 1;
}

export function effectiveBudget(estimator: StudyEstimator, nominal: number): number {
  return estimator === 'lr' ? lrBudget(nominal) : nominal;
}

/** Estimator forward rows per step: SPSA spends 2 rows per direction and sample, LR one per noisy forward. */
export function queriesPerStep(estimator: StudyEstimator, batchSize: number, budget: number): number {
  return (estimator === 'spsa' ? 2 : 1) * batchSize * budget;
}

export function allocatorConfig(kind: StudyAllocator, warmupSteps: number): AllocatorConfigInput {
  return kind === 'flops' ? { kind: 'flops', warmupSteps } : { kind };
}
