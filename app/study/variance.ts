// (a) Gradient-estimate variance per allocator at the same budget. At parameter snapshots θ_t along the uniform
// run (its stored checkpoints), each allocator is restored to the state its own run had at the same step (its
// checkpoint at t: FLOPS's learned Φ, Neyman's running variances), allocates the batch the runs take next, and
// the estimator draws `draws` independent gradient estimates. The draws use common random numbers: draw r has the
// same estimator seed under every allocator, so the allocation is the only difference between them.
//
// Head mode has the exact batch gradient g (softmax regression over frozen features), so the error is measured
// directly: MSE = mean_r ‖ĝ_r − g‖². Every mode also gets the unbiased trace of the estimator's covariance from
// the spread of the draws around their own mean, tr Cov = Σ_r ‖ĝ_r − ḡ‖² / (R − 1) — a reference estimate with
// R·n̄ queries per sample whose own noise is corrected exactly; that is the measure where no exact gradient exists
// (LoRA). In head mode an extra reference line, 'oracle', is Neyman allocation with the true per-sample squared
// gradient norms (not available to a forward-only trainer: a bound on what allocation by variance can give).
import { createAllocator, type Allocator } from '../../engine/allocators/index.ts';
import type { ResolvedTrainConfig } from '../../engine/config.ts';
import { SoftmaxOracle } from '../../engine/oracles/softmax.ts';
import { deriveSeed } from '../../engine/rng.ts';
import { SEED_PURPOSE } from '../../engine/train.ts';
import { batchOrder, estimateStep, stepsPerEpoch, type TrainingProblem } from '../../engine/train-helpers.ts';
import { listCheckpoints, readCheckpoint } from '../db/checkpoints.ts';
import type { ReadableDb } from '../db/open.ts';
import type { StudyAllocator } from './options.ts';
import type { RunRecord } from './runs.ts';
import { geomean } from './stats.ts';

export type VarianceLine = StudyAllocator | 'oracle';

export interface SnapshotMeasure {
  step: number;
  /** ‖g‖² of the exact batch gradient (head mode), else NaN. */
  gradNorm2: number;
  /** Per line: mean_r ‖ĝ_r − g‖² (head mode; NaN otherwise). */
  mse: Partial<Record<VarianceLine, number>>;
  /** Per line: Σ_r ‖ĝ_r − ḡ‖² / (R − 1). */
  traceCov: Partial<Record<VarianceLine, number>>;
  /** Per line: mean over draws of max_i n_i / n̄ (how far the allocation leaves uniform). */
  maxShare: Partial<Record<VarianceLine, number>>;
}

export interface VarianceResult {
  runIds: Partial<Record<StudyAllocator, number>>;
  draws: number;
  exact: boolean;
  snapshots: SnapshotMeasure[];
  /** Per line: geometric mean over snapshots of (measure / uniform's), the measure being MSE when exact. */
  ratio: Partial<Record<VarianceLine, number>>;
  /** Per line: arithmetic mean over snapshots of the measure (MSE when exact, else tr Cov). */
  level: Partial<Record<VarianceLine, number>>;
  /** Per line: mean over snapshots of MSE / ‖g‖² (head mode). */
  relative: Partial<Record<VarianceLine, number>>;
  /** Per line: geometric-mean ratio of tr Cov (in head mode too, to separate variance from the LR smoothing bias). */
  traceCovRatio: Partial<Record<VarianceLine, number>>;
}

interface Accumulator {
  line: VarianceLine;
  allocator: Allocator;
  sum: Float64Array;
  sumSq: number;
  mse: number;
  maxShare: number;
}

const VARIANCE_SEED = 0x5eed_57d7;

/** The batch the runs take at 0-based step `step` (engine/train.ts's order), given the stored loop position. */
function batchAt(
  problem: TrainingProblem,
  config: ResolvedTrainConfig,
  loop: { epoch: number; batchInEpoch: number },
): { ids: Int32Array; epoch: number } {
  const perEpoch = stepsPerEpoch(problem.trainSize, config.batchSize);
  let { epoch, batchInEpoch } = loop;
  if (batchInEpoch === perEpoch) {
    epoch += 1;
    batchInEpoch = 0;
  }
  const order = batchOrder(problem.trainSize, deriveSeed(config.seed, SEED_PURPOSE.shuffle, epoch));
  const b = config.batchSize;
  return { ids: order.slice(batchInEpoch * b, (batchInEpoch + 1) * b), epoch };
}

function checkpointAt(db: ReadableDb, runId: number, step: number) {
  const info = listCheckpoints(db, runId).find((c) => c.step === step);
  const ck = info && readCheckpoint(db, info.id);
  if (!ck) throw new Error(`run ${runId} has no checkpoint at step ${step}`);
  return ck;
}

/** Exact batch gradient and per-sample squared gradient norms of a head problem at θ (softmax regression). */
async function exactHead(
  problem: TrainingProblem,
  theta: Float32Array,
  b: number,
): Promise<{ g: Float64Array; perSample: Float64Array }> {
  const features = problem.features!;
  const rows = Int32Array.from({ length: b }, (_, i) => i);
  const x = await features.features(rows);
  const classes = theta.length / (features.featureDim + 1);
  const oracle = new SoftmaxOracle(x, features.labels(rows), classes);
  const perSample = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    const gi = oracle.sampleGradient(theta, i);
    let s = 0;
    for (const v of gi) s += v * v;
    perSample[i] = s;
  }
  return { g: oracle.exactGradient(theta, rows), perSample };
}

export async function measureVariance(
  db: ReadableDb,
  problem: TrainingProblem,
  runs: Partial<Record<StudyAllocator, RunRecord>>,
  options: { draws: number; exact: boolean; snapshots: number; warmupSteps: number },
): Promise<VarianceResult> {
  const uniform = runs.uniform;
  if (!uniform) throw new Error('variance study: the uniform run is the reference and must exist');
  // The estimator settings are the same in every run of the group; only the allocator differs.
  const config = uniform.train;
  const allocators = (Object.keys(runs) as StudyAllocator[]).filter((a) => runs[a]?.status === 'completed');
  // Snapshots: checkpoints every allocator has, after FLOPS's uniform warm-up (where it equals uniform).
  const common = uniform.checkpointSteps.filter(
    (s) => s > options.warmupSteps && allocators.every((a) => runs[a]!.checkpointSteps.includes(s)),
  );
  const steps = [...new Set(common)].slice(-options.snapshots);
  const b = config.batchSize;
  const R = options.draws;
  const granularity = config.estimator === 'lr' ? 2 : 1;
  const clean = new Float64Array(b);
  const snapshots: SnapshotMeasure[] = [];

  for (const step of steps) {
    const ck = checkpointAt(db, uniform.runId, step);
    const theta = Float32Array.from(ck.params);
    const loop = ck.loopState as { epoch: number; batchInEpoch: number };
    const { ids, epoch } = batchAt(problem, config, loop);
    await problem.loadBatch(ids);
    await problem.cleanLosses(theta, clean);
    const exact = options.exact ? await exactHead(problem, theta, b) : undefined;

    const accs: Accumulator[] = [];
    for (const a of allocators) {
      const allocator = createAllocator(runs[a]!.train.allocator);
      allocator.setState(checkpointAt(db, runs[a]!.runId, step).allocatorState);
      accs.push({ line: a, allocator, sum: new Float64Array(theta.length), sumSq: 0, mse: 0, maxShare: 0 });
    }
    if (exact) {
      const v = exact.perSample;
      const allocator = createAllocator({ kind: 'neyman' }, { oracle: () => v });
      accs.push({
        line: 'oracle',
        allocator,
        sum: new Float64Array(theta.length),
        sumSq: 0,
        mse: 0,
        maxShare: 0,
      });
    }

    for (let r = 0; r < R; r++) {
      const estimateSeed = deriveSeed(VARIANCE_SEED, config.seed, step, r);
      for (const acc of accs) {
        const counts = acc.allocator.allocate({
          losses: clean,
          sampleIds: ids,
          budget: b * config.budgetPerSample,
          nMin: config.nMin,
          nMax: config.nMax,
          step,
          epoch,
          seed: deriveSeed(VARIANCE_SEED, 1, config.seed, step, r),
          granularity,
        });
        let maxN = 0;
        for (const n of counts) maxN = Math.max(maxN, n);
        acc.maxShare += maxN / config.budgetPerSample / R;
        const est = await estimateStep(problem, config, theta, counts, clean, estimateSeed, step);
        let sq = 0;
        let err = 0;
        for (let j = 0; j < est.grad.length; j++) {
          const gj = est.grad[j]!;
          acc.sum[j] = acc.sum[j]! + gj;
          sq += gj * gj;
          if (exact) err += (gj - exact.g[j]!) ** 2;
        }
        acc.sumSq += sq;
        acc.mse += err / R;
      }
    }

    const m: SnapshotMeasure = { step, gradNorm2: Number.NaN, mse: {}, traceCov: {}, maxShare: {} };
    if (exact) m.gradNorm2 = exact.g.reduce((s, x) => s + x * x, 0);
    for (const acc of accs) {
      let meanSq = 0;
      for (const s of acc.sum) meanSq += (s / R) ** 2;
      m.traceCov[acc.line] = (acc.sumSq - R * meanSq) / (R - 1);
      m.mse[acc.line] = exact ? acc.mse : Number.NaN;
      m.maxShare[acc.line] = acc.maxShare;
    }
    snapshots.push(m);
  }

  const lines: VarianceLine[] = [...allocators, ...(options.exact ? (['oracle'] as const) : [])];
  const measure = (s: SnapshotMeasure, line: VarianceLine) =>
    options.exact ? s.mse[line]! : s.traceCov[line]!;
  const ratio: VarianceResult['ratio'] = {};
  const level: VarianceResult['level'] = {};
  const relative: VarianceResult['relative'] = {};
  const traceCovRatio: VarianceResult['traceCovRatio'] = {};
  for (const line of lines) {
    ratio[line] = geomean(snapshots.map((s) => measure(s, line) / measure(s, 'uniform')));
    traceCovRatio[line] = geomean(snapshots.map((s) => s.traceCov[line]! / s.traceCov.uniform!));
    level[line] = snapshots.reduce((t, s) => t + measure(s, line), 0) / snapshots.length;
    relative[line] = options.exact
      ? snapshots.reduce((t, s) => t + s.mse[line]! / s.gradNorm2, 0) / snapshots.length
      : Number.NaN;
  }
  const runIds: VarianceResult['runIds'] = {};
  for (const a of allocators) runIds[a] = runs[a]!.runId;
  return { runIds, draws: R, exact: options.exact, snapshots, ratio, level, relative, traceCovRatio };
}
