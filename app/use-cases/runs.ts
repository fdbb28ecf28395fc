// Run use cases: validate and create runs (from a spec and/or a preset), drive them through the queue (start,
// pause, resume, cancel), edit tags and notes, delete, and read them back for the UI and the CLI: the list, one run
// in detail, down-sampled chart series, allocations, a comparison with a config diff, and exports.
import { existsSync } from 'node:fs';

import { z } from 'zod';

import { InvalidConfigError } from '../../engine/config.ts';
import { ConfigError } from '../../engine/errors.ts';
import type { AppContext } from '../context.ts';
import { allocationStats, getAllocation, type AllocationStatsRow } from '../db/allocations.ts';
import { chartSeries, type ChartSeries } from '../db/charts.ts';
import { listCheckpoints, type CheckpointInfo } from '../db/checkpoints.ts';
import { getDatasetVersion, type DatasetVersion } from '../db/datasets.ts';
import { RunStateError } from '../db/errors.ts';
import { listEvaluations, type EvaluationRow } from '../db/evaluations.ts';
import { listEvents, type StoredEvent } from '../db/events.ts';
import { exportRun as exportRunDocument, metricsCsv } from '../db/export.ts';
import { readMetrics, SERIES_KEYS, stepBounds, type SeriesKey, type XAxis } from '../db/metrics.ts';
import { getModel, type Model } from '../db/models.ts';
import {
  createRun as insertRun,
  deleteRun as removeRun,
  diffRunConfigs,
  listRuns as queryRuns,
  requireRun,
  RUN_SORTS,
  RUN_STATUSES,
  setRunTags,
  updateRun,
  type Run,
  type RunListItem,
  type RunSort,
} from '../db/runs.ts';
import { prepared, type JsonValue } from '../db/sql.ts';
import { resolveRunSpec, type RunSpec, type RunSpecInput } from '../runs/spec.ts';
import { applyPreset, PRESET_NAMES, PRESETS, type Preset } from './presets.ts';
import { fieldIssues, parseArgs, type FieldIssue } from './validate.ts';

const runId = z.number().int().positive();
const idArgs = z.object({ id: runId });
export type RunIdArgs = z.input<typeof idArgs>;

const specArgs = z.object({
  /** A run spec (modelId, datasetVersionId, mode, train, ...); validated in full, every bad field named. */
  spec: z.custom<RunSpecInput>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'must be an object',
  }),
  /** Start from this preset's mode and training config; the spec's fields win. */
  preset: z.enum(PRESET_NAMES).optional(),
});
export type ValidateRunArgs = z.input<typeof specArgs>;

export type ValidateRunResult =
  | { ok: true; spec: RunSpec; requested: RunSpecInput; warnings: string[] }
  | { ok: false; issues: FieldIssue[] };

/**
 * Checks a spec against the schema and against the store: the model and dataset version exist, their files are
 * there, the images fit the model, and the batch fits the training split. Returns the issues instead of throwing,
 * for forms that show them field by field.
 */
export async function validateRun(ctx: AppContext, args: ValidateRunArgs): Promise<ValidateRunResult> {
  const a = parseArgs('run/validate', specArgs, args);
  let requested = applyPreset(a.preset, a.spec) as RunSpecInput;
  let spec: RunSpec;
  try {
    spec = resolveRunSpec(requested);
  } catch (error) {
    if (error instanceof InvalidConfigError) return { ok: false, issues: fieldIssues(error) };
    throw error;
  }
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  const db = ctx.workspace.db;
  const model = getModel(db, spec.modelId);
  if (!model) {
    issues.push({ field: 'modelId', message: `model ${spec.modelId} does not exist` });
  } else if (model.kind !== 'hf-vit' && model.kind !== 'onnx') {
    issues.push({
      field: 'modelId',
      message: `model ${model.id} is an ${model.kind} model; training needs a Hugging Face ViT/DeiT folder or an .onnx classifier`,
    });
  } else if (!existsSync(model.path)) {
    issues.push({ field: 'modelId', message: `model ${model.id} files are missing: ${model.path}` });
  } else if (model.kind === 'hf-vit' && spec.mode.kind === 'onnx') {
    issues.push({
      field: 'mode.kind',
      message: `model ${model.id} is a ViT folder; 'onnx' is for imported .onnx models`,
    });
  }
  const dataset = getDatasetVersion(db, spec.datasetVersionId);
  if (!dataset) {
    issues.push({
      field: 'datasetVersionId',
      message: `dataset version ${spec.datasetVersionId} does not exist`,
    });
  } else {
    if (!dataset.cachePath || !existsSync(dataset.cachePath)) {
      issues.push({ field: 'datasetVersionId', message: `the cache of dataset ${dataset.name} is missing` });
    }
    const counts = (dataset.splitCounts as { counts?: Partial<Record<string, number>> }).counts ?? {};
    const trainSize =
      spec.kShot !== undefined
        ? Math.min(counts.train ?? 0, spec.kShot * dataset.classes.length)
        : (counts.train ?? 0);
    if (trainSize < spec.train.batchSize) {
      issues.push({
        field: 'train.batchSize',
        message: `${spec.train.batchSize} exceeds the ${trainSize} training samples of ${dataset.name}`,
      });
    }
    // No split asked for and none held out for validation (the bundled demo set): evaluate on test, and say so.
    // The choice goes into the requested config too, which the worker resolves again when the run starts.
    if (requested.evalSplit === undefined && (counts.val ?? 0) === 0 && (counts.test ?? 0) > 0) {
      requested = { ...requested, evalSplit: 'test' };
      spec = { ...spec, evalSplit: 'test' };
      warnings.push(`dataset ${dataset.name} has no val split: evaluating on its test split`);
    }
    if ((counts[spec.evalSplit] ?? 0) === 0) {
      issues.push({
        field: 'evalSplit',
        message: `dataset ${dataset.name} has no ${spec.evalSplit} samples`,
      });
    }
    const cfg = model?.config as { imageSize?: [number, number]; numChannels?: number } | undefined;
    if (cfg?.imageSize && cfg.numChannels !== undefined) {
      const [h, w] = cfg.imageSize;
      if (dataset.height !== h || dataset.width !== w || dataset.channels !== cfg.numChannels) {
        issues.push({
          field: 'datasetVersionId',
          message:
            `images are ${dataset.width}x${dataset.height}x${dataset.channels}; the model needs ` +
            `${w}x${h}x${cfg.numChannels} (import the dataset with this model's preprocessing)`,
        });
      }
    }
  }
  // An ONNX model: what it trains, its input against the images, its outputs against the classes (onnx-plan.ts).
  if (model?.kind === 'onnx' && dataset && existsSync(model.path)) {
    // Loaded on use: it brings protobuf, which ViT-only sessions never need.
    const { onnxRunIssues } = await import('../runs/onnx-plan.ts');
    const shape = { height: dataset.height, width: dataset.width, channels: dataset.channels };
    issues.push(
      ...(await onnxRunIssues(
        model.path,
        spec.mode,
        { ...shape, classes: dataset.classes.length },
        spec.train.estimator,
      )),
    );
  }
  // The engine refuses this too (graph.ts checkLrReach), but only once the run starts; say it at creation.
  if (model?.kind === 'hf-vit' && spec.mode.kind === 'full' && spec.train.estimator === 'lr') {
    issues.push({
      field: 'train.estimator',
      message:
        "LR cannot reach the patch embedding, CLS token and position embeddings that 'full' trains " +
        '(noise enters only at linear, LayerNorm, bias and prompt outputs); use SPSA or another mode',
    });
  }
  if (spec.mode.kind === 'full' && spec.train.estimator !== 'lr') {
    warnings.push('full fine-tuning with SPSA: the estimator variance grows with the parameter count');
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, spec, requested, warnings };
}

const createArgs = specArgs.extend({
  /** Queue the run at once (default); false leaves it 'queued' until run/start. */
  start: z.boolean().default(true),
});
export type CreateRunArgs = z.input<typeof createArgs>;

function defaultName(spec: RunSpec, preset: string | undefined): string {
  const t = spec.train;
  return `${preset ?? spec.mode.kind} ${t.estimator} ${t.allocator.kind} seed ${t.seed}`;
}

/** Creates a run; throws InvalidConfigError naming every bad field. */
export async function createRun(ctx: AppContext, args: CreateRunArgs): Promise<Run> {
  const a = parseArgs('run/create', createArgs, args);
  const checked = await validateRun(ctx, { spec: a.spec, ...(a.preset ? { preset: a.preset } : {}) });
  if (!checked.ok) {
    throw new InvalidConfigError(checked.issues.map((i) => new ConfigError(i.field, i.message)));
  }
  const { spec, requested } = checked;
  const run = insertRun(ctx.workspace.db, {
    name: spec.name ?? defaultName(spec, a.preset),
    modelId: spec.modelId,
    datasetVersionId: spec.datasetVersionId,
    requestedConfig: a.preset ? { ...requested, preset: a.preset } : requested,
    resolvedConfig: spec,
    seed: spec.train.seed,
    tags: spec.tags,
    notes: spec.notes,
  });
  ctx.events.emit('run/status', { runId: run.id, status: run.status });
  return a.start ? ctx.queue.enqueue(run.id) : run;
}

/** Queues a run created with start: false. */
export async function startRun(ctx: AppContext, args: RunIdArgs): Promise<Run> {
  const a = parseArgs('run/start', idArgs, args);
  return ctx.queue.enqueue(a.id);
}

/** Pauses a training run after its current step (a checkpoint at that step); resolves once it is paused. */
export async function pauseRun(ctx: AppContext, args: RunIdArgs): Promise<Run> {
  const a = parseArgs('run/pause', idArgs, args);
  return ctx.queue.pause(a.id);
}

/** Queues a paused or interrupted run to continue from its last checkpoint. */
export async function resumeRun(ctx: AppContext, args: RunIdArgs): Promise<Run> {
  const a = parseArgs('run/resume', idArgs, args);
  return ctx.queue.resume(a.id);
}

/** Cancels a run; a training one stops after its current step and keeps what it recorded. */
export async function cancelRun(ctx: AppContext, args: RunIdArgs): Promise<Run> {
  const a = parseArgs('run/cancel', idArgs, args);
  return ctx.queue.cancel(a.id);
}

/** Deletes a run and everything recorded for it. A run the queue holds must be cancelled first. */
export async function deleteRun(ctx: AppContext, args: RunIdArgs): Promise<{ id: number; deleted: true }> {
  const a = parseArgs('run/delete', idArgs, args);
  if (ctx.queue.position(a.id)) {
    throw new RunStateError(a.id, requireRun(ctx.workspace.db, a.id).status, 'deleted');
  }
  removeRun(ctx.workspace.db, a.id);
  return { id: a.id, deleted: true };
}

const tag = z.string().trim().min(1).max(64);
const tagArgs = z.object({
  id: runId,
  /** Replaces every tag. */
  tags: z.array(tag).max(32).optional(),
  add: z.array(tag).optional(),
  remove: z.array(tag).optional(),
});

export async function tagRun(ctx: AppContext, args: z.input<typeof tagArgs>): Promise<Run> {
  const a = parseArgs('run/tag', tagArgs, args);
  const db = ctx.workspace.db;
  const current = requireRun(db, a.id).tags;
  const removed = new Set(a.remove ?? []);
  const tags = [...(a.tags ?? current), ...(a.add ?? [])].filter((t) => !removed.has(t));
  setRunTags(db, a.id, tags);
  return requireRun(db, a.id);
}

const noteArgs = z.object({ id: runId, notes: z.string().max(10_000) });

export async function noteRun(ctx: AppContext, args: z.input<typeof noteArgs>): Promise<Run> {
  const a = parseArgs('run/note', noteArgs, args);
  return updateRun(ctx.workspace.db, a.id, { notes: a.notes });
}

/** The numbers a run is judged by, from its stored rows. */
export interface RunStats {
  steps: number;
  queries: number;
  forwardRows: number;
  lastLoss: number | null;
  /** Training-loop time at the last recorded step (of the latest session, after a resume). */
  wallMs: number | null;
  /** From the first start to the finish (or to now while running); includes pauses. (Optional: added after the
   *  renderer started against this shape; always present in results.) */
  elapsedMs?: number | null;
  /** Latest evaluation (the final one for a finished run). */
  evalAccuracy: number | null;
  evalLoss: number | null;
  bestEvalAccuracy: number | null;
  /** The evaluation at step 0: the untrained head. */
  initialAccuracy: number | null;
  /** Mean per-step estimated gradient variance (lower is better at equal queries). */
  meanVarianceEstimate: number | null;
}

/** `run` as the caller already read it; `evals` its evaluations when the caller read them too. */
export function runStats(
  ctx: AppContext,
  run: Run,
  evals: EvaluationRow[] = listEvaluations(ctx.workspace.db, run.id),
): RunStats {
  const db = ctx.workspace.db;
  const id = run.id;
  const end = run.finishedAt ?? (run.status === 'running' ? Date.now() : null);
  const bounds = stepBounds(db, id);
  const last = bounds ? readMetrics(db, id, { fromStep: bounds.last, toStep: bounds.last })[0] : undefined;
  const latest = evals.at(-1);
  const initial = evals.find((e) => e.step === 0);
  const accuracies = evals.map((e) => e.accuracy).filter((x): x is number => x !== null);
  // One aggregate in SQLite rather than reading every metric row of a long run.
  const meanVar = prepared(db, 'SELECT avg(variance_estimate) FROM metrics WHERE run_id = ?')
    .pluck()
    .get(id) as number | null;
  return {
    steps: last?.step ?? 0,
    queries: last?.queries ?? 0,
    forwardRows: last?.forwardRows ?? 0,
    lastLoss: last?.trainLoss ?? null,
    wallMs: last?.wallMs ?? null,
    elapsedMs: run.startedAt !== null && end !== null ? end - run.startedAt : null,
    evalAccuracy: latest?.accuracy ?? null,
    evalLoss: latest?.loss ?? null,
    bestEvalAccuracy: accuracies.length > 0 ? Math.max(...accuracies) : null,
    initialAccuracy: initial?.accuracy ?? null,
    meanVarianceEstimate: meanVar,
  };
}

const listArgs = z.object({
  status: z.union([z.enum(RUN_STATUSES), z.array(z.enum(RUN_STATUSES))]).optional(),
  tag: z.string().min(1).optional(),
  text: z.string().min(1).optional(),
  sort: z.enum(Object.keys(RUN_SORTS) as [RunSort, ...RunSort[]]).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: z.number().int().positive().max(10_000).optional(),
  offset: z.number().int().nonnegative().optional(),
});

export type RunSummary = RunListItem & { stats: RunStats };

export async function listRuns(ctx: AppContext, args: z.input<typeof listArgs> = {}): Promise<RunSummary[]> {
  const a = parseArgs('run/list', listArgs, args);
  return queryRuns(ctx.workspace.db, a).map((r) => ({ ...r, stats: runStats(ctx, r) }));
}

export interface RunDetails {
  run: Run;
  stats: RunStats;
  /** Where the queue has it in this process (null: not queued here). */
  queue: ReturnType<AppContext['queue']['position']>;
  model: Model | null;
  dataset: DatasetVersion | null;
  evaluations: EvaluationRow[];
  checkpoints: CheckpointInfo[];
  /** Newest first. */
  events: StoredEvent[];
}

const getArgs = z.object({ id: runId, events: z.number().int().nonnegative().max(10_000).default(100) });

export async function getRun(ctx: AppContext, args: z.input<typeof getArgs>): Promise<RunDetails> {
  const a = parseArgs('run/get', getArgs, args);
  const db = ctx.workspace.db;
  const run = requireRun(db, a.id);
  const evaluations = listEvaluations(db, a.id);
  return {
    run,
    stats: runStats(ctx, run, evaluations),
    queue: ctx.queue.position(a.id),
    model: run.modelId === null ? null : (getModel(db, run.modelId) ?? null),
    dataset: run.datasetVersionId === null ? null : (getDatasetVersion(db, run.datasetVersionId) ?? null),
    evaluations,
    checkpoints: listCheckpoints(db, a.id),
    events: listEvents(db, { runId: a.id, limit: a.events }),
  };
}

const X_NAMES = { step: 'step', queries: 'queries', forwardRows: 'forwardRows', wall: 'wallMs' } as const;

const metricsArgs = z.object({
  runIds: z.array(runId).min(1).max(50),
  metrics: z
    .array(z.enum(SERIES_KEYS as [SeriesKey, ...SeriesKey[]]))
    .min(1)
    .default(['trainLoss']),
  /** x of every point: the step, cumulative estimator queries, cumulative forward rows, or wall time (ms). */
  x: z.enum(['step', 'queries', 'forwardRows', 'wall']).default('step'),
  maxPoints: z.number().int().min(2).max(20_000).default(2000),
  fromStep: z.number().int().nonnegative().optional(),
  toStep: z.number().int().nonnegative().optional(),
});

export interface MetricSeries extends ChartSeries {
  metric: SeriesKey;
}

export interface EvalPoint {
  step: number;
  /** On the requested x axis (the metric row of that step; step 0 is x = 0). */
  x: number;
  loss: number | null;
  accuracy: number | null;
}

export interface RunMetrics {
  x: 'step' | 'queries' | 'forwardRows' | 'wall';
  series: MetricSeries[];
  evaluations: { runId: number; points: EvalPoint[] }[];
}

/** Chart series of several runs, min/max down-sampled in SQLite, plus their evaluations on the same x axis. */
export async function runMetrics(ctx: AppContext, args: z.input<typeof metricsArgs>): Promise<RunMetrics> {
  const a = parseArgs('run/metrics', metricsArgs, args);
  const db = ctx.workspace.db;
  for (const id of a.runIds) requireRun(db, id);
  const x: XAxis = X_NAMES[a.x];
  const series = a.metrics.flatMap((metric) =>
    chartSeries(db, {
      runIds: a.runIds,
      metric,
      x,
      maxPoints: a.maxPoints,
      ...(a.fromStep !== undefined ? { fromStep: a.fromStep } : {}),
      ...(a.toStep !== undefined ? { toStep: a.toStep } : {}),
    }).map((s) => ({ ...s, metric })),
  );
  const evaluations = a.runIds.map((id) => ({
    runId: id,
    points: listEvaluations(db, id).map((e): EvalPoint => {
      const row = e.step === 0 ? undefined : readMetrics(db, id, { fromStep: e.step, toStep: e.step })[0];
      return {
        step: e.step,
        x: row ? row[x] : e.step === 0 ? 0 : e.step,
        loss: e.loss,
        accuracy: e.accuracy,
      };
    }),
  }));
  return { x: a.x, series, evaluations };
}

const allocArgs = z.object({
  id: runId,
  /** The step shown as "latest" and in the histogram (default: the last recorded step). */
  step: z.number().int().positive().optional(),
  /** Loss-rank bins of the heatmap (columns). */
  bins: z.number().int().min(1).max(256).default(16),
  /** Steps in the heatmap (rows), evenly spread over the run. */
  maxSteps: z.number().int().min(1).max(2000).default(200),
});

export interface RunAllocations {
  runId: number;
  latest: {
    step: number;
    sampleIds: number[];
    counts: number[];
    losses: number[];
    allocatorParams: unknown;
  } | null;
  /** Of the latest step's counts: how many samples got each count. */
  histogram: { counts: number[]; samples: number[] };
  /** Per step: budget, min, max, mean, std and Gini of the counts, and the allocator's parameters (sampled). */
  stats: AllocationStatsRow[];
  /**
   * rows[i][b]: mean queries of the samples in loss-rank bin b (0 = lowest clean loss) at steps[i]. Shows where the
   * allocator spends the budget as training goes (uniform allocation is a flat picture).
   */
  heatmap: { steps: number[]; bins: number; rows: number[][] };
}

function spread<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from(
    { length: max },
    (_, i) => items[Math.round((i * (items.length - 1)) / (max - 1 || 1))] as T,
  );
}

/** Mean count per loss-rank bin of one step. */
function rankBins(counts: Int32Array, losses: Float32Array, bins: number): number[] {
  const order = Array.from(counts.keys()).sort((i, j) => (losses[i] as number) - (losses[j] as number));
  const sums = new Array<number>(bins).fill(0);
  const ns = new Array<number>(bins).fill(0);
  order.forEach((row, rank) => {
    const b = Math.min(bins - 1, Math.floor((rank * bins) / order.length));
    sums[b] = (sums[b] as number) + (counts[row] as number);
    ns[b] = (ns[b] as number) + 1;
  });
  return sums.map((s, b) => ((ns[b] as number) > 0 ? s / (ns[b] as number) : 0));
}

export async function runAllocations(
  ctx: AppContext,
  args: z.input<typeof allocArgs>,
): Promise<RunAllocations> {
  const a = parseArgs('run/allocations', allocArgs, args);
  const db = ctx.workspace.db;
  requireRun(db, a.id);
  const all = allocationStats(db, a.id);
  const stats = spread(all, a.maxSteps);
  const latestStep = a.step ?? all.at(-1)?.step;
  const row = latestStep === undefined ? undefined : getAllocation(db, a.id, latestStep);
  const histogram = new Map<number, number>();
  for (const c of row?.counts ?? []) histogram.set(c, (histogram.get(c) ?? 0) + 1);
  const keys = [...histogram.keys()].sort((x, y) => x - y);
  const rows: number[][] = [];
  const steps: number[] = [];
  for (const s of stats) {
    const alloc = getAllocation(db, a.id, s.step);
    if (!alloc) continue;
    steps.push(s.step);
    rows.push(rankBins(alloc.counts, alloc.losses, a.bins));
  }
  return {
    runId: a.id,
    latest: row
      ? {
          step: row.step,
          sampleIds: Array.from(row.sampleIds),
          counts: Array.from(row.counts),
          losses: Array.from(row.losses),
          allocatorParams: row.allocatorParams,
        }
      : null,
    histogram: { counts: keys, samples: keys.map((k) => histogram.get(k) as number) },
    stats,
    heatmap: { steps, bins: a.bins, rows },
  };
}

const compareArgs = z.object({
  ids: z.array(runId).min(1).max(50),
  /** Diff the resolved configs (defaults filled in; default) or what was requested. */
  which: z.enum(['resolved', 'requested']).default('resolved'),
});

export interface CompareRow extends RunStats {
  id: number;
  name: string;
  status: Run['status'];
  mode: string | null;
  estimator: string | null;
  allocator: string | null;
  budgetPerSample: number | null;
  lr: number | null;
  /** spsaEps for SPSA/ES, lrSigma for LR. */
  eps: number | null;
  seed: number;
}

export interface RunComparison {
  runs: CompareRow[];
  /** Config keys whose values differ; values[i] belongs to runs[i] (null where a config lacks the key). */
  diff: { key: string; values: JsonValue[] }[];
}

export async function compareRuns(
  ctx: AppContext,
  args: z.input<typeof compareArgs>,
): Promise<RunComparison> {
  const a = parseArgs('run/compare', compareArgs, args);
  const db = ctx.workspace.db;
  const runs = a.ids.map((id): CompareRow => {
    const run = requireRun(db, id);
    const spec = run.resolvedConfig as Partial<RunSpec> | null;
    const t = spec?.train;
    return {
      id,
      name: run.name,
      status: run.status,
      mode: spec?.mode?.kind ?? null,
      estimator: t?.estimator ?? null,
      allocator: t?.allocator.kind ?? null,
      budgetPerSample: t?.budgetPerSample ?? null,
      lr: t?.optimizer.lr ?? null,
      eps: t ? (t.estimator === 'lr' ? t.lrSigma : t.spsaEps) : null,
      seed: run.seed,
      ...runStats(ctx, run),
    };
  });
  // JSON has no undefined: a key missing from one config travels as null.
  const diff = diffRunConfigs(db, a.ids, a.which).map((d) => ({
    key: d.key,
    values: d.values.map((v) => (v === undefined ? null : v)),
  }));
  return { runs, diff };
}

const exportArgs = z.object({
  id: runId,
  format: z.enum(['json', 'csv']).default('json'),
  /** JSON only: include checkpoints with their parameters. */
  checkpoints: z.enum(['none', 'latest', 'all']).default('none'),
});

export interface RunExportText {
  filename: string;
  mimeType: string;
  text: string;
}

/** A run as one JSON document (everything, importable) or its metrics as CSV. */
export async function exportRun(ctx: AppContext, args: z.input<typeof exportArgs>): Promise<RunExportText> {
  const a = parseArgs('run/export', exportArgs, args);
  const db = ctx.workspace.db;
  if (a.format === 'csv') {
    return { filename: `run-${a.id}-metrics.csv`, mimeType: 'text/csv', text: metricsCsv(db, a.id) };
  }
  const doc = exportRunDocument(db, a.id, { checkpoints: a.checkpoints });
  return { filename: `run-${a.id}.json`, mimeType: 'application/json', text: JSON.stringify(doc) };
}

/** The presets with their specs, for the UI's "start from" menu and `flops train --preset`. */
export async function listPresets(ctx: AppContext, args: Record<string, never> = {}): Promise<Preset[]> {
  void ctx;
  parseArgs('run/presets', z.object({}), args);
  return Object.values(PRESETS).map((p) => structuredClone(p) as Preset);
}
