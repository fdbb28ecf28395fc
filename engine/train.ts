// The training loop. It reads in the order of the work: load a batch, clean pass (per-sample losses), allocate
// queries, estimate the gradient with forward passes only, clip, update, teach the allocator, report, evaluate,
// checkpoint, stop. Everything random derives from (config.seed, step), so a run is a pure function of its config
// and data: the same seed gives bit-identical parameters, and a resumed run continues exactly where it stopped.
import { allocationVariance, createAllocator } from './allocators/index.ts';
import type { Allocator } from './allocators/index.ts';
import type { ResolvedTrainConfig } from './config.ts';
import { DivergenceError } from './errors.ts';
import { clipGlobalNorm, createOptimizer, globalNorm, lrAt } from './optim.ts';
import type { Optimizer } from './optim.ts';
import { deriveSeed } from './rng.ts';
import { batchOrder, estimateStep, stepsPerEpoch } from './train-helpers.ts';
import type { TrainingProblem } from './train-helpers.ts';

/** Purposes of derived seeds; a seed is deriveSeed(config.seed, PURPOSE, step, ...). */
export const SEED_PURPOSE = { shuffle: 1, allocate: 2, estimate: 3 } as const;

export interface StepEvent {
  type: 'step';
  step: number; // 1-based count of completed updates
  epoch: number;
  loss: number; // mean clean loss of the batch before the update
  accuracy: number | null; // clean top-1 accuracy of the batch, when the problem reports it
  queries: number; // cumulative estimator rows
  forwardRows: number; // cumulative rows including clean passes
  lr: number;
  gradNorm: number; // before clipping
  varianceEstimate: number; // (1/B²) Σ v̂_i / n_i, the estimated trace of Cov(ĝ) at this allocation
  wallMs: number; // training time of the run so far, across pauses and resumes (not counting the stopped time)
  seed: number; // the step's estimator seed: replays the perturbations
  sampleIds: Int32Array;
  counts: Int32Array; // per-sample query allocation
  losses: Float32Array; // per-sample clean losses
  scalars: Float32Array; // per-direction projected gradients (SPSA), for replay
  allocator: Record<string, number>; // allocator parameters after its update
}

export interface EvalEvent {
  type: 'eval';
  step: number;
  loss: number;
  accuracy: number;
}

/** Everything needed to continue a run bit-identically. */
export interface Checkpoint {
  step: number;
  epoch: number;
  batchInEpoch: number; // batches of `epoch` already consumed
  queries: number;
  forwardRows: number;
  wallMs: number; // training time so far, so a resumed run's clock continues instead of restarting
  theta: Float32Array;
  optimizer: unknown;
  allocator: unknown;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  checkpoint: Checkpoint;
}

export type TrainEvent = StepEvent | EvalEvent | CheckpointEvent;

export type TrainStatus = 'completed' | 'stopped' | 'paused' | 'diverged';

export interface TrainResult {
  status: TrainStatus;
  theta: Float32Array; // last good parameters
  checkpoint: Checkpoint; // state at the end (resume from it after a pause)
  lastEval: EvalEvent | null;
  error?: DivergenceError;
}

export interface TrainOptions {
  /** abort(reason) with reason 'pause' stops after the current step and returns status 'paused'. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void | Promise<void>;
  resumeFrom?: Checkpoint;
}

export async function train(
  problem: TrainingProblem,
  config: ResolvedTrainConfig,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const { signal, onEvent = () => undefined, resumeFrom } = options;
  const theta = Float32Array.from(resumeFrom?.theta ?? problem.params.data);
  const optimizer: Optimizer = createOptimizer(config.optimizer, theta.length);
  const allocator: Allocator = createAllocator(config.allocator);
  if (resumeFrom) {
    optimizer.setState(resumeFrom.optimizer);
    allocator.setState(resumeFrom.allocator);
  }

  const B = config.batchSize;
  const perEpoch = stepsPerEpoch(problem.trainSize, B);
  const totalSteps = Math.min(config.maxSteps ?? Infinity, perEpoch * config.epochs);
  const granularity = config.estimator === 'lr' ? 2 : 1;
  const cleanLosses = new Float64Array(B);
  // ĝ's buffer, reused every step (estimators that can write into it do: SPSA 'table').
  const gradBuffer = new Float32Array(theta.length);
  // The clock continues from the checkpoint: wall time is the run's training time, not this session's.
  const start = performance.now() - (resumeFrom?.wallMs ?? 0);

  let step = resumeFrom?.step ?? 0;
  let epoch = resumeFrom?.epoch ?? 0;
  let batchInEpoch = resumeFrom?.batchInEpoch ?? 0;
  let queries = resumeFrom?.queries ?? 0;
  let forwardRows = resumeFrom?.forwardRows ?? 0;
  let lastEval: EvalEvent | null = null;
  const checkpoint = (): Checkpoint => ({
    step,
    epoch,
    batchInEpoch,
    queries,
    forwardRows,
    wallMs: performance.now() - start,
    theta: Float32Array.from(theta),
    optimizer: optimizer.getState(),
    allocator: allocator.getState(),
  });
  const evaluate = async (): Promise<void> => {
    const { loss, accuracy } = await problem.evaluate(theta);
    lastEval = { type: 'eval', step, loss, accuracy };
    await onEvent(lastEval);
  };
  const finish = async (status: TrainStatus, error?: DivergenceError): Promise<TrainResult> => {
    if (status !== 'diverged' && lastEval?.step !== step) await evaluate();
    return { status, theta, checkpoint: checkpoint(), lastEval, ...(error ? { error } : {}) };
  };

  /** One update; returns the step event, or throws DivergenceError leaving theta at its last good value. */
  const runStep = async (): Promise<StepEvent> => {
    // 1. The batch: a seeded permutation per epoch, so resuming mid-epoch sees the same batches.
    const order = batchOrder(problem.trainSize, deriveSeed(config.seed, SEED_PURPOSE.shuffle, epoch));
    const sampleIds = order.subarray(batchInEpoch * B, (batchInEpoch + 1) * B);
    await problem.loadBatch(sampleIds);

    // 2. Clean pass: one forward row per sample gives the per-sample losses the allocator conditions on.
    const clean = await problem.cleanLosses(theta, cleanLosses);
    forwardRows += B;
    const meanLoss = mean(cleanLosses);
    if (!Number.isFinite(meanLoss)) throw new DivergenceError(step + 1, 'the clean batch loss is not finite');

    // 3. Allocate the budget N = B·n̄ across samples.
    const counts = allocator.allocate({
      losses: cleanLosses,
      sampleIds,
      budget: B * config.budgetPerSample,
      nMin: config.nMin,
      nMax: config.nMax,
      step,
      epoch,
      seed: deriveSeed(config.seed, SEED_PURPOSE.allocate, step),
      granularity,
    });

    // 4. Queries: perturbed forward passes, combined into one gradient estimate (per-sample averaging, §3.7).
    const stepSeed = deriveSeed(config.seed, SEED_PURPOSE.estimate, step);
    const estimate = await estimateStep(
      problem,
      config,
      theta,
      counts,
      cleanLosses,
      stepSeed,
      step,
      gradBuffer,
    );
    queries += estimate.rows;
    forwardRows += estimate.rows;

    // 5. Update θ (the only place it changes, after every finiteness check). ‖ĝ‖ (the metric, the clip) is the
    //    same float64 sum either way; it is read in the optimizer's own pass when nothing needs it earlier: ĝ
    //    proven finite by the estimator and no clipping (a second pass over d values cost ~5% of a step).
    const lr = lrAt(step, config.optimizer.lr, config.schedule, totalSteps);
    let gradNorm: number;
    if (estimate.gradFinite === true && config.clipNorm === undefined) {
      gradNorm = Math.sqrt(optimizer.step(theta, estimate.grad, lr));
    } else {
      gradNorm = globalNorm(estimate.grad);
      if (!Number.isFinite(gradNorm))
        throw new DivergenceError(step + 1, 'the gradient estimate is not finite');
      if (config.clipNorm !== undefined) clipGlobalNorm(estimate.grad, config.clipNorm, gradNorm);
      optimizer.step(theta, estimate.grad, lr);
    }

    // 6. Teach the allocator with this step's variance estimates (no extra forward passes).
    allocator.update({ counts, varianceEstimates: estimate.varianceEstimates, sampleIds });

    step += 1;
    batchInEpoch += 1;
    return {
      type: 'step',
      step,
      epoch,
      loss: meanLoss,
      accuracy: clean.accuracy,
      queries,
      forwardRows,
      lr,
      gradNorm,
      varianceEstimate: allocationVariance(counts, estimate.varianceEstimates),
      wallMs: performance.now() - start,
      seed: stepSeed,
      sampleIds: Int32Array.from(sampleIds),
      counts,
      losses: Float32Array.from(cleanLosses),
      scalars: estimate.scalars,
      allocator: allocator.snapshot(),
    };
  };

  while (step < totalSteps) {
    if (signal?.aborted) return finish(signal.reason === 'pause' ? 'paused' : 'stopped');
    if (batchInEpoch === perEpoch) {
      epoch += 1;
      batchInEpoch = 0;
    }
    let event: StepEvent;
    try {
      event = await runStep();
    } catch (error) {
      if (error instanceof DivergenceError) return finish('diverged', error);
      throw error;
    }
    await onEvent(event);
    if (config.evalEverySteps && step % config.evalEverySteps === 0) await evaluate();
    if (config.checkpointEverySteps && step % config.checkpointEverySteps === 0) {
      await onEvent({ type: 'checkpoint', checkpoint: checkpoint() });
    }
  }
  return finish('completed');
}

function mean(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
