// The study's training runs, each one an ordinary stored run: created in the store with tags 'study' and the
// study's own tag, executed by executeRun (the same path as the desktop app and the CLI), then read back from the
// store — evaluations, metrics and allocations — so every number in the report is one the app can show.
import type { ResolvedTrainConfig } from '../../engine/config.ts';
import { listCheckpoints } from '../db/checkpoints.ts';
import { listEvaluations, type EvalSplit } from '../db/evaluations.ts';
import { readAllocations } from '../db/allocations.ts';
import { readMetrics } from '../db/metrics.ts';
import type { WritableDb } from '../db/open.ts';
import { createRun } from '../db/runs.ts';
import { executeRun } from '../runs/execute.ts';
import { resolveRunSpec, type RunSpec, type RunSpecInput } from '../runs/spec.ts';
import {
  allocatorConfig,
  MODE_SPECS,
  queriesPerStep,
  type ResolvedStudyOptions,
  type StudyAllocator,
  type StudyEstimator,
  type StudyModeName,
} from './options.ts';

/** One configuration of the grid, without the seed. */
export interface CellKey {
  mode: StudyModeName;
  estimator: StudyEstimator;
  /** Nominal n̄ as asked for (2, 5, 10, 20). */
  nominalBudget: number;
  /** n̄ the run used (LR: even). */
  budget: number;
  allocator: StudyAllocator;
}

export interface CurvePoint {
  step: number;
  queries: number;
  forwardRows: number;
  accuracy: number;
  loss: number;
}

export interface RunRecord extends CellKey {
  seed: number;
  runId: number;
  name: string;
  /** The resolved training config the run was stored with. */
  train: ResolvedTrainConfig;
  status: string;
  error?: string;
  steps: number;
  queries: number;
  forwardRows: number;
  finalAccuracy: number;
  finalLoss: number;
  initialAccuracy: number;
  /** executeRun's wall time: problem build (frozen prefix over the dataset), initial evaluation and training. */
  wallMs: number;
  /** The training loop alone (the last metric row's wall time, evaluations included). */
  loopWallMs: number;
  /** Mean over steps of the engine's own per-step estimate V̂(n) = (1/B²) Σ v̂_i/n_i. */
  meanVarianceEstimate: number;
  evalEverySteps: number;
  checkpointSteps: number[];
  /** The allocator's parameters after its last update (FLOPS: alpha, beta, logC, logH, ...), from the store. */
  allocatorFinal: Record<string, number>;
  curve: CurvePoint[];
}

export interface StudyContext {
  db: WritableDb;
  opts: ResolvedStudyOptions;
  modelId: number;
  datasetVersionId: string;
  evalSplit: EvalSplit & ('val' | 'test');
  trainSize: number;
  /** Tag shared by this study's runs (besides 'study'). */
  tag: string;
  log: (line: string) => void;
}

export function stepsFor(ctx: StudyContext, key: CellKey): number {
  const q = ctx.opts.settings[key.mode].queryBudget[key.estimator];
  return Math.max(1, Math.floor(q / queriesPerStep(key.estimator, ctx.opts.batchSize, key.budget)));
}

/** The run spec of one grid cell and seed. Checkpoints at `snapshots` evenly spaced steps give the variance study
 *  its parameter snapshots (θ and each allocator's state at the same steps). */
export function runInput(ctx: StudyContext, key: CellKey, seed: number): RunSpecInput {
  const o = ctx.opts;
  const steps = stepsFor(ctx, key);
  const perEpoch = Math.floor(ctx.trainSize / o.batchSize);
  const snapshots = o.settings[key.mode].snapshots;
  return {
    name: `study ${key.mode} ${key.estimator} n=${key.budget} ${key.allocator} seed ${seed}`,
    modelId: ctx.modelId,
    datasetVersionId: ctx.datasetVersionId,
    mode: MODE_SPECS[key.mode],
    evalSplit: ctx.evalSplit,
    tags: ['study', ctx.tag],
    notes: `FLOPS query-efficiency study (${ctx.tag}): ${o.settings[key.mode].queryBudget[key.estimator]} estimator queries per run.`,
    train: {
      seed,
      estimator: key.estimator,
      allocator: allocatorConfig(key.allocator, o.flopsWarmupSteps),
      budgetPerSample: key.budget,
      batchSize: o.batchSize,
      epochs: Math.ceil(steps / perEpoch),
      maxSteps: steps,
      optimizer: { kind: 'adam', lr: o.lr },
      spsaEps: o.spsaEps,
      lrSigma: o.lrSigma,
      evalEverySteps: Math.max(1, Math.round(steps / o.evalsPerRun)),
      checkpointEverySteps: Math.max(1, Math.ceil(steps / snapshots)),
    },
  };
}

export async function executeStudyRun(ctx: StudyContext, key: CellKey, seed: number): Promise<RunRecord> {
  const input = runInput(ctx, key, seed);
  const spec: RunSpec = resolveRunSpec(input);
  const run = createRun(ctx.db, {
    name: spec.name!,
    modelId: ctx.modelId,
    datasetVersionId: ctx.datasetVersionId,
    requestedConfig: input,
    resolvedConfig: spec,
    seed,
    tags: spec.tags,
    notes: spec.notes,
  });
  const outcome = await executeRun(ctx.db, run.id);
  const metrics = readMetrics(ctx.db, run.id);
  const byStep = new Map(metrics.map((m) => [m.step, m]));
  const curve: CurvePoint[] = listEvaluations(ctx.db, run.id, ctx.evalSplit).map((e) => {
    const m = byStep.get(e.step);
    return {
      step: e.step,
      queries: m?.queries ?? 0,
      forwardRows: m?.forwardRows ?? 0,
      accuracy: e.accuracy ?? Number.NaN,
      loss: e.loss ?? Number.NaN,
    };
  });
  return {
    ...key,
    seed,
    runId: run.id,
    name: run.name,
    train: spec.train,
    status: outcome.status,
    ...(outcome.error !== undefined && { error: outcome.error }),
    steps: outcome.steps,
    queries: outcome.queries,
    forwardRows: outcome.forwardRows,
    finalAccuracy: outcome.evalAccuracy ?? Number.NaN,
    finalLoss: outcome.evalLoss ?? Number.NaN,
    initialAccuracy: outcome.initialAccuracy ?? Number.NaN,
    wallMs: outcome.wallMs,
    loopWallMs: metrics.at(-1)?.wallMs ?? Number.NaN,
    meanVarianceEstimate: outcome.meanVarianceEstimate,
    evalEverySteps: spec.train.evalEverySteps ?? 0,
    checkpointSteps: listCheckpoints(ctx.db, run.id).map((c) => c.step),
    allocatorFinal: (readAllocations(ctx.db, run.id, { fromStep: outcome.steps }).at(-1)?.allocatorParams ??
      {}) as Record<string, number>,
    curve,
  };
}

export interface AllocationPoint {
  mode: StudyModeName;
  estimator: StudyEstimator;
  budget: number;
  allocator: StudyAllocator;
  step: number;
  loss: number;
  count: number;
}

/** Per-sample (clean loss, queries allocated) pairs from a run's last `steps` steps, read from the store. */
export function allocationPoints(ctx: StudyContext, run: RunRecord, steps: number): AllocationPoint[] {
  const rows = readAllocations(ctx.db, run.runId, { fromStep: Math.max(1, run.steps - steps + 1) });
  const out: AllocationPoint[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.counts.length; i++) {
      out.push({
        mode: run.mode,
        estimator: run.estimator,
        budget: run.budget,
        allocator: run.allocator,
        step: r.step,
        loss: r.losses[i]!,
        count: r.counts[i]!,
      });
    }
  }
  return out;
}
