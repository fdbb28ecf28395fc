// Executes one stored run: builds its problem, drives the engine's loop, and records every step, allocation,
// evaluation and checkpoint through the batched writer. A pause writes a checkpoint at the exact step; a crash
// leaves the last periodic one; either way `resume` continues bit-identically (the loop is a function of the seed).
import { existsSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';

import { DivergenceError, FlopsError } from '../../engine/errors.ts';
import type { ProviderName } from '../../engine/onnx/session.ts';
import {
  train,
  type Checkpoint as EngineCheckpoint,
  type TrainEvent,
  type TrainResult,
} from '../../engine/train.ts';
import { latestCheckpoint, type Checkpoint as StoredCheckpoint } from '../db/checkpoints.ts';
import { getDatasetVersion } from '../db/datasets.ts';
import { RunStateError } from '../db/errors.ts';
import { getModel } from '../db/models.ts';
import type { WritableDb } from '../db/open.ts';
import { prepareResume } from '../db/resume.ts';
import { requireRun, transitionRun, updateRun, type RunStatus } from '../db/runs.ts';
import { openRunWriter, type RunWriter } from '../db/writer.ts';
import { buildProblem } from './problem.ts';
import { resolveRunSpec } from './spec.ts';

/** What subscribers see while a run trains (the UI's live view, the CLI's progress bar). */
export interface RunProgress {
  runId: number;
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  queries: number;
  forwardRows: number;
  varianceEstimate: number;
  wallMs: number;
  /** Clean top-1 accuracy of this step's batch (null when the problem does not report one). */
  accuracy: number | null;
  counts: number[];
  losses: number[];
  allocator: Record<string, number>;
  evalAccuracy: number | null;
}

export interface ExecuteOptions {
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  providers?: readonly ProviderName[];
  threads?: number;
  /**
   * The caller already moved the run to 'running' under this process's pid (the queue does, in its own connection,
   * so that the store says 'running' before anyone is told so; it resumes interrupted runs with prepareResume).
   * The run then continues from its latest checkpoint if it has one.
   */
  claimed?: boolean;
  /** Checkpoint every k steps when the config does not say (crash safety); default 50. */
  defaultCheckpointEvery?: number;
}

export interface RunOutcome {
  runId: number;
  status: RunStatus;
  steps: number;
  queries: number;
  forwardRows: number;
  evalLoss: number | null;
  evalAccuracy: number | null;
  /** The evaluation of the starting parameters (the untrained new head), for comparison. */
  initialAccuracy: number | null;
  wallMs: number;
  provider: string;
  meanVarianceEstimate: number;
  error?: string;
}

function toEngineCheckpoint(c: StoredCheckpoint): EngineCheckpoint {
  const loop = c.loopState as {
    epoch: number;
    batchInEpoch: number;
    queries: number;
    forwardRows: number;
    wallMs: number;
  };
  return {
    step: c.step,
    ...loop,
    theta: c.params,
    optimizer: c.optimizerState ? deserialize(c.optimizerState) : undefined,
    allocator: c.allocatorState,
  };
}

function writeCheckpoint(writer: RunWriter, c: EngineCheckpoint): void {
  writer.checkpoint({
    step: c.step,
    params: c.theta,
    // Optimizer moments are Float32Arrays: v8's structured serialisation keeps their exact bytes.
    optimizerState: serialize(c.optimizer),
    rngState: null, // every draw derives from (seed, step): there is no stream state to save
    allocatorState: c.allocator,
    loopState: {
      epoch: c.epoch,
      batchInEpoch: c.batchInEpoch,
      queries: c.queries,
      forwardRows: c.forwardRows,
      wallMs: c.wallMs,
    },
  });
}

/** Runs (or resumes) a queued, paused or interrupted run to its next stop. */
export async function executeRun(
  db: WritableDb,
  runId: number,
  options: ExecuteOptions = {},
): Promise<RunOutcome> {
  const started = performance.now();
  const pid = process.pid;
  const before = requireRun(db, runId);
  let resumeFrom: EngineCheckpoint | undefined;
  if (options.claimed) {
    if (before.status !== 'running' || before.pid !== pid) {
      throw new RunStateError(runId, `${before.status} (pid ${before.pid ?? 'none'})`, 'running');
    }
    const saved = latestCheckpoint(db, runId);
    resumeFrom = saved && toEngineCheckpoint(saved);
  } else if (before.status === 'interrupted') {
    const point = prepareResume(db, runId, { pid });
    resumeFrom = point.checkpoint && toEngineCheckpoint(point.checkpoint);
  } else {
    if (before.status === 'paused') {
      const saved = latestCheckpoint(db, runId);
      resumeFrom = saved && toEngineCheckpoint(saved);
    }
    transitionRun(db, runId, 'running', { pid });
  }

  const writer = openRunWriter(db, runId, { pid });
  let provider = 'unknown';
  let variances = 0;
  let stepsSeen = 0;
  let initialAccuracy: number | null = null;
  let checkpointStep = resumeFrom?.step;
  try {
    const spec = resolveRunSpec(before.requestedConfig);
    const model = getModel(db, spec.modelId);
    const dataset = getDatasetVersion(db, spec.datasetVersionId);
    if (!model) throw new FlopsError('MODEL_MISSING', `model ${spec.modelId} is not in the store`);
    if (!dataset?.cachePath) {
      throw new FlopsError('DATASET_MISSING', `dataset version ${spec.datasetVersionId} has no cache`);
    }
    // Files moved or deleted since import: say which record lost which path, not a bare ENOENT from deep inside.
    if (!existsSync(model.path)) {
      throw new FlopsError(
        'MODEL_MISSING',
        `model ${model.id} (${model.name}): its files are gone from ${model.path}`,
      );
    }
    if (!existsSync(dataset.cachePath)) {
      throw new FlopsError(
        'DATASET_MISSING',
        `dataset ${dataset.name} (${dataset.id.slice(0, 12)}): its cache is gone from ${dataset.cachePath}`,
      );
    }
    const built = await buildProblem({
      modelDir: model.path,
      datasetCachePath: dataset.cachePath,
      mode: spec.mode,
      estimator: spec.train.estimator,
      seed: spec.train.seed,
      evalSplit: spec.evalSplit,
      kShot: spec.kShot,
      providers: options.providers,
      threads: options.threads,
    });
    // A checkpoint θ that does not fit what the spec now trains (the spec or the model folder changed while the run
    // was paused) would fail deep in the engine as a bare RangeError after the run's rows were touched: refuse it
    // here, typed and naming the lengths, before anything is written.
    const trains = built.problem.params.data.length;
    if (resumeFrom && resumeFrom.theta.length !== trains) {
      throw new FlopsError(
        'CHECKPOINT_MISMATCH',
        `run ${runId}: its checkpoint has ${resumeFrom.theta.length} values; its ${spec.mode.kind} mode trains ${trains} (the run's spec or model changed since step ${resumeFrom.step})`,
      );
    }
    provider = built.provider;
    updateRun(db, runId, { executionProvider: provider, resolvedConfig: spec });
    writer.event('info', 'run/problem', {
      provider,
      trainSize: built.trainSize,
      evalSize: built.evalSize,
      trainableParams: built.trainableParams,
      prefixMs: Math.round(built.prefixMs),
    });
    const config = {
      ...spec.train,
      checkpointEverySteps: spec.train.checkpointEverySteps ?? options.defaultCheckpointEvery ?? 50,
    };
    const totalSteps = Math.min(
      config.maxSteps ?? Infinity,
      Math.floor(built.trainSize / config.batchSize) * config.epochs,
    );
    if (!resumeFrom) {
      const initial = await built.problem.evaluate(built.problem.params.data);
      initialAccuracy = initial.accuracy;
      writer.evaluation({ step: 0, split: spec.evalSplit, ...initial, examples: built.evalSize, wallMs: 0 });
    }

    let lastAccuracy: number | null = null;
    const onEvent = (event: TrainEvent): void => {
      if (event.type === 'step') {
        stepsSeen += 1;
        variances += event.varianceEstimate;
        writer.metric({
          step: event.step,
          epoch: event.epoch,
          queries: event.queries,
          forwardRows: event.forwardRows,
          trainLoss: event.loss,
          trainAcc: event.accuracy,
          lr: event.lr,
          gradNorm: event.gradNorm,
          varianceEstimate: event.varianceEstimate,
          wallMs: event.wallMs,
        });
        writer.allocation({
          step: event.step,
          sampleIds: event.sampleIds,
          counts: event.counts,
          losses: event.losses,
          allocatorParams: event.allocator,
        });
        writer.step({ step: event.step, seed: event.seed, scalars: event.scalars });
        options.onProgress?.({
          runId,
          step: event.step,
          totalSteps,
          epoch: event.epoch,
          loss: event.loss,
          queries: event.queries,
          forwardRows: event.forwardRows,
          varianceEstimate: event.varianceEstimate,
          wallMs: event.wallMs,
          accuracy: event.accuracy,
          counts: Array.from(event.counts),
          losses: Array.from(event.losses),
          allocator: event.allocator,
          evalAccuracy: lastAccuracy,
        });
      } else if (event.type === 'eval') {
        lastAccuracy = event.accuracy;
        writer.evaluation({
          step: event.step,
          split: spec.evalSplit,
          loss: event.loss,
          accuracy: event.accuracy,
          examples: built.evalSize,
          wallMs: performance.now() - started,
        });
      } else {
        writeCheckpoint(writer, event.checkpoint);
        checkpointStep = event.checkpoint.step;
      }
    };

    const result: TrainResult = await train(built.problem, config, {
      signal: options.signal,
      onEvent,
      resumeFrom,
    });
    // The state at every stop is kept: a pause resumes from it, a finished run exports its parameters from it,
    // and a diverged run keeps its last good parameters.
    // (checkpoints are UNIQUE per step: a stop right after a periodic checkpoint, or right after resuming, has one)
    if (checkpointStep !== result.checkpoint.step) writeCheckpoint(writer, result.checkpoint);
    writer.close(); // commits under the lease, which the transition below releases
    const status: RunStatus =
      result.status === 'stopped' ? 'cancelled' : result.status === 'paused' ? 'paused' : result.status;
    transitionRun(db, runId, status, result.error ? { error: result.error.message } : {});
    return {
      runId,
      status,
      steps: result.checkpoint.step,
      queries: result.checkpoint.queries,
      forwardRows: result.checkpoint.forwardRows,
      evalLoss: result.lastEval?.loss ?? null,
      evalAccuracy: result.lastEval?.accuracy ?? null,
      initialAccuracy,
      wallMs: performance.now() - started,
      provider,
      meanVarianceEstimate: stepsSeen > 0 ? variances / stepsSeen : Number.NaN,
      ...(result.error ? { error: result.error.message } : {}),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    writer.event('error', 'run/failed', {
      message,
      code: error instanceof FlopsError ? error.code : undefined,
    });
    writer.flush();
    transitionRun(db, runId, error instanceof DivergenceError ? 'diverged' : 'failed', { error: message });
    throw error;
  }
}
