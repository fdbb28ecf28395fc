// runStudy: the query-efficiency study end to end. For every trainable mode, seed, estimator and budget it trains
// one stored run per allocator (executeRun, tagged 'study'), then measures the gradient-estimate variance of every
// allocator at the uniform run's parameter snapshots, and finally writes report.md, results.json and the PNG
// figures to the report folder. Cells the engine cannot run (LR beyond the head of a ViT) are recorded with the
// engine's own reason instead of being dropped.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, platform } from 'node:os';
import { join } from 'node:path';

import { resolveTrainConfig } from '../../engine/config.ts';
import { estimateStep, type TrainingProblem } from '../../engine/train-helpers.ts';
import { ensureBundledDataset, ensureBundledModel } from '../bundled.ts';
import { getDatasetVersion, type DatasetVersion } from '../db/datasets.ts';
import { getModel, type Model } from '../db/models.ts';
import { buildProblem, type BuiltProblem } from '../runs/problem.ts';
import { openWorkspace } from '../workspace.ts';
import {
  analyse,
  type NotSupported,
  type StudyData,
  type StudySummary,
  type VarianceGroup,
} from './analysis.ts';
import {
  effectiveBudget,
  MODE_SPECS,
  resolveStudyOptions,
  type ResolvedStudyOptions,
  type StudyAllocator,
  type StudyEstimator,
  type StudyModeName,
  type StudyOptions,
} from './options.ts';
import { plotSpecs, renderPng } from './plots.ts';
import { renderReport, type StudyMeta } from './report.ts';
import {
  allocationPoints,
  executeStudyRun,
  stepsFor,
  type CellKey,
  type RunRecord,
  type StudyContext,
} from './runs.ts';
import { measureVariance } from './variance.ts';

export interface StudyResult {
  outDir: string;
  reportPath: string;
  resultsPath: string;
  /** Absolute paths of the PNG figures. */
  plots: string[];
  options: ResolvedStudyOptions;
  meta: StudyMeta;
  data: StudyData;
  summary: StudySummary;
}

/** Steps of the allocation-vs-loss figure, taken from the end of each run. */
const ALLOCATION_STEPS = 20;

function stamp(d: Date): string {
  return d.toISOString().replace(/\..*$/, '').replace(/:/g, '-');
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function splitCount(v: DatasetVersion, split: 'train' | 'val' | 'test'): number {
  const counts = (v.splitCounts as { counts?: Record<string, number> } | null)?.counts;
  return counts?.[split] ?? 0;
}

/**
 * Whether the engine can run `estimator` on this problem. SPSA needs only per-sample losses. LR needs either the
 * head's frozen features or an LR graph with noise at every trainable layer (engine/train-helpers.ts); the engine's
 * own dispatch is asked, so the study follows the engine when it gains support.
 */
async function supportReason(
  problem: TrainingProblem,
  estimator: StudyEstimator,
  batchSize: number,
): Promise<string | null> {
  if (estimator === 'spsa' || problem.features || problem.lrLayers) return null;
  const config = resolveTrainConfig({ estimator, budgetPerSample: 2, batchSize });
  try {
    await estimateStep(
      problem,
      config,
      problem.params.data,
      new Int32Array(batchSize).fill(2),
      new Float64Array(batchSize),
      0,
      0,
    );
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function releaseProblem(built: BuiltProblem): Promise<void> {
  const p = built.problem as TrainingProblem & { release?: () => Promise<void> };
  await p.release?.();
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as number[]);
  return value;
}

export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const opts = resolveStudyOptions(options);
  const log = options.log ?? (() => undefined);
  const started = new Date();
  const t0 = performance.now();
  const loadStart = loadavg();
  const tag = `study-${stamp(started)}`;
  const outDir = opts.out ?? join(opts.dataDir, tag);
  mkdirSync(outDir, { recursive: true });

  const ws = openWorkspace(opts.dataDir);
  try {
    let model: Model;
    if (opts.modelId !== undefined) {
      const m = getModel(ws.db, opts.modelId);
      if (!m) throw new RangeError(`model ${opts.modelId} is not in the store at ${ws.paths.db}`);
      model = m;
    } else {
      model = await ensureBundledModel(ws);
    }
    let dataset: DatasetVersion;
    if (opts.datasetVersionId !== undefined) {
      const d = getDatasetVersion(ws.db, opts.datasetVersionId);
      if (!d) throw new RangeError(`dataset version ${opts.datasetVersionId} is not in the store`);
      dataset = d;
    } else {
      dataset = await ensureBundledDataset(ws);
    }
    if (!dataset.cachePath) throw new RangeError(`dataset version ${dataset.id} has no cache`);
    const evalSplit = splitCount(dataset, 'val') > 0 ? 'val' : 'test';
    log(
      `study ${tag}: model ${model.name} (#${model.id}), dataset ${dataset.name} (${dataset.id.slice(0, 12)}), eval on ${evalSplit}`,
    );
    log(`report folder: ${outDir}`);

    const data: StudyData = { runs: [], variance: [], notSupported: [], allocations: [] };
    const build = (mode: StudyModeName, seed: number) =>
      buildProblem({
        modelDir: model.path,
        datasetCachePath: dataset.cachePath!,
        mode: MODE_SPECS[mode],
        // With LR among the estimators the problem carries the LR graph too (LoRA·LR trains A and B, not only the
        // head); SPSA ignores it.
        estimator: opts.estimators.includes('lr') ? 'lr' : 'spsa',
        seed,
        evalSplit,
      });

    let ctx: StudyContext | undefined;
    let evalSize = 0;
    const total =
      opts.modes.length *
      opts.estimators.length *
      opts.budgets.length *
      opts.allocators.length *
      opts.seeds.length;
    let done = 0;
    for (const mode of opts.modes) {
      const settings = opts.settings[mode];
      for (const [si, seed] of opts.seeds.entries()) {
        const built = await build(mode, seed);
        evalSize = built.evalSize;
        ctx ??= {
          db: ws.db,
          opts,
          modelId: model.id,
          datasetVersionId: dataset.id,
          evalSplit,
          trainSize: built.trainSize,
          tag,
          log,
        };
        try {
          for (const estimator of opts.estimators) {
            const reason = await supportReason(built.problem, estimator, opts.batchSize);
            if (reason !== null) {
              if (si === 0) {
                data.notSupported.push({ mode, estimator, reason } satisfies NotSupported);
                log(`${mode} ${estimator}: not supported — ${reason}`);
              }
              done += opts.budgets.length * opts.allocators.length;
              continue;
            }
            for (const nominal of opts.budgets) {
              const budget = effectiveBudget(estimator, nominal);
              const group: Partial<Record<StudyAllocator, RunRecord>> = {};
              for (const allocator of opts.allocators) {
                const key: CellKey = { mode, estimator, nominalBudget: nominal, budget, allocator };
                const record = await executeStudyRun(ctx, key, seed);
                group[allocator] = record;
                data.runs.push(record);
                done += 1;
                log(
                  `[${done}/${total}] run ${record.runId} ${mode} ${estimator} n̄=${budget} ${allocator} seed ${seed}: ` +
                    `${record.status}, ${stepsFor(ctx, key)} steps, acc ${(100 * record.finalAccuracy).toFixed(1)}%, ` +
                    `${(record.wallMs / 1000).toFixed(1)} s  (elapsed ${((performance.now() - t0) / 60000).toFixed(1)} min)`,
                );
                if (si === 0 && nominal === closest(opts.budgets, 10) && record.status === 'completed') {
                  data.allocations.push(...allocationPoints(ctx, record, ALLOCATION_STEPS));
                }
              }
              if (group.uniform?.status !== 'completed') {
                log(`  variance: skipped (the uniform run did not complete)`);
                continue;
              }
              const vt = performance.now();
              const result = await measureVariance(ws.db, built.problem, group, {
                draws: settings.draws,
                exact: mode === 'head',
                snapshots: settings.snapshots,
                warmupSteps: opts.flopsWarmupSteps,
              });
              const g: VarianceGroup = { mode, estimator, nominalBudget: nominal, budget, seed, result };
              data.variance.push(g);
              log(
                `  variance (${result.snapshots.length} snapshots × ${settings.draws} draws, ` +
                  `${((performance.now() - vt) / 1000).toFixed(1)} s): ` +
                  Object.entries(result.ratio)
                    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
                    .join(', '),
              );
            }
          }
        } finally {
          await releaseProblem(built);
        }
      }
    }

    const summary = analyse(data, opts.targetFraction);
    const finished = new Date();
    const cpu = cpus();
    const meta: StudyMeta = {
      tag,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (performance.now() - t0) / 1000,
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim() ?? 'unknown',
        memoryGiB: totalmem() / 2 ** 30,
        platform: platform(),
        release: release(),
        node: process.versions.node,
        loadAverageStart: loadStart,
        loadAverageEnd: loadavg(),
      },
      gitCommit: gitCommit(),
      model: { id: model.id, name: model.name },
      dataset: {
        id: dataset.id,
        name: dataset.name,
        trainSize: ctx?.trainSize ?? 0,
        evalSize,
        evalSplit,
        classes: dataset.classes,
      },
      dataDir: ws.dataDir,
      database: ws.paths.db,
    };

    const written = await writeOutputs(outDir, data, summary, opts, meta);
    log(`report: ${written.reportPath}`);
    return { outDir, ...written, options: opts, meta, data, summary };
  } finally {
    ws.close();
  }
}

function closest(values: readonly number[], x: number): number {
  return values.reduce((best, v) => (Math.abs(v - x) < Math.abs(best - x) ? v : best), values[0]!);
}

/** Writes the figures, report.md and results.json of a finished study. */
async function writeOutputs(
  outDir: string,
  data: StudyData,
  summary: StudySummary,
  opts: ResolvedStudyOptions,
  meta: StudyMeta,
): Promise<{ reportPath: string; resultsPath: string; plots: string[] }> {
  mkdirSync(outDir, { recursive: true });
  const plots = opts.plots ? plotSpecs(data, summary) : [];
  const plotPaths: string[] = [];
  for (const p of plots) {
    const path = join(outDir, p.name);
    writeFileSync(path, await renderPng(p.spec));
    plotPaths.push(path);
  }
  const reportPath = join(outDir, 'report.md');
  writeFileSync(reportPath, renderReport(data, summary, opts, meta, plots));
  const resultsPath = join(outDir, 'results.json');
  const results: StudyResultsFile = {
    meta,
    options: opts,
    targets: summary.targets,
    comparisons: summary.comparisons,
    statements: summary.statements,
    cells: summary.cells,
    variance: summary.variance,
    notSupported: data.notSupported,
    runs: data.runs.map((r) => ({ ...r, ...summary.derived.find((d) => d.runId === r.runId)! })),
    varianceMeasurements: data.variance,
    allocationsColumns: ['mode', 'estimator', 'budget', 'allocator', 'step', 'loss', 'count'],
    allocations: data.allocations.map((a) => [
      a.mode,
      a.estimator,
      a.budget,
      a.allocator,
      a.step,
      a.loss,
      a.count,
    ]),
    plots: plots.map((p) => p.name),
  };
  writeFileSync(resultsPath, JSON.stringify(results, jsonReplacer));
  return { reportPath, resultsPath, plots: plotPaths };
}

/** The shape of results.json (NaN and ±Infinity are written as null). */
export interface StudyResultsFile {
  meta: StudyMeta;
  options: ResolvedStudyOptions;
  targets: StudySummary['targets'];
  comparisons: StudySummary['comparisons'];
  statements: string[];
  cells: StudySummary['cells'];
  variance: StudySummary['variance'];
  notSupported: StudyData['notSupported'];
  runs: (RunRecord & StudySummary['derived'][number])[];
  varianceMeasurements: StudyData['variance'];
  allocationsColumns: string[];
  allocations: (string | number)[][];
  plots: string[];
}

/**
 * Re-renders report.md, the figures and results.json from a study's results.json (no training): for a new report
 * layout or figure style without re-running the study.
 */
export async function rebuildReport(resultsPath: string, outDir: string): Promise<StudyResult> {
  const file = JSON.parse(readFileSync(resultsPath, 'utf8'), (_k, v: unknown) =>
    v === null ? Number.NaN : v,
  ) as StudyResultsFile;
  const num = (x: unknown) => (typeof x === 'number' ? x : Number.NaN);
  const data: StudyData = {
    runs: file.runs.map((r) => ({
      ...r,
      curve: r.curve.map((p) => ({ ...p, accuracy: num(p.accuracy), loss: num(p.loss) })),
    })),
    variance: file.varianceMeasurements,
    notSupported: file.notSupported,
    allocations: file.allocations.map((a) => ({
      mode: a[0] as StudyModeName,
      estimator: a[1] as StudyEstimator,
      budget: a[2] as number,
      allocator: a[3] as StudyAllocator,
      step: a[4] as number,
      loss: a[5] as number,
      count: a[6] as number,
    })),
  };
  const opts: ResolvedStudyOptions = { ...file.options, plots: true };
  const summary = analyse(data, opts.targetFraction);
  const written = await writeOutputs(outDir, data, summary, opts, file.meta);
  return { outDir, ...written, options: opts, meta: file.meta, data, summary };
}
