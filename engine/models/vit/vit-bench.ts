// Inference and training throughput of the bundled ViT's training graphs, per trainable mode, for `npm run bench`
// (vit.<mode>.inference_rows_per_sec, vit.<mode>.training_rows_per_sec, vit.<mode>.overhead_ratio,
// vit.prefix_reuse_speedup). A "row" is one image through the graph that the estimator's queries would run: the full
// training graph, and — when the mode has a frozen prefix — the suffix alone on cached prefix outputs, which is what
// queries cost once the prefix has run.
import * as ort from 'onnxruntime-node';

import { resolveTrainConfig } from '../../config.ts';
import { createHeadProblem } from '../../problems/head.ts';
import { rowsPerSec } from '../../onnx/rows-per-sec.ts';
import { createOnnxClassifierProblem } from '../../problems/onnx-classifier.ts';
import { measureTrainingThroughput, median } from '../../train-throughput.ts';
import type { TrainingProblem } from '../../train-helpers.ts';
import { preprocessPixels } from './config.ts';
import { vitEngineGraphs } from './engine-graphs.ts';
import { buildViTGraphSet } from './graph.ts';
import { BUNDLED_VIT_DIR, loadViT } from './index.ts';
import { prepareViT, type PreparedViT, type TrainMode, type TrainModeKind } from './modes.ts';

/** The mode each kind is benchmarked with (small, typical settings). */
export const BENCH_MODES: Record<TrainModeKind, TrainMode> = {
  head: { kind: 'head' },
  bitfit: { kind: 'bitfit' },
  lora: { kind: 'lora', rank: 4, alpha: 8, targets: ['q', 'v'] },
  vpt: { kind: 'vpt', prompts: 4 },
  'last-k': { kind: 'last-k', k: 1 },
  full: { kind: 'full' },
};

export interface VitBenchOptions {
  batch?: number;
  /** Timed runs per round (best of 3 rounds) after 2 warm-up runs. */
  runs?: number;
  /** ORT intra-op threads. */
  threads?: number;
  /** Checkpoint folder (default: the bundled model). */
  dir?: string;
}

export interface VitBenchResult {
  /** Rows per second through the full training graph (inputs x, y, trainables → logits, loss). */
  inference_rows_per_sec: number;
  /** Rows per second through the suffix on cached prefix outputs (modes with a frozen prefix only). */
  suffix_rows_per_sec?: number;
  /** suffix_rows_per_sec / inference_rows_per_sec. */
  prefix_reuse_speedup?: number;
  trainable_params: number;
}

function trainableFeeds(p: PreparedViT): Record<string, ort.Tensor> {
  return Object.fromEntries(
    p.trainable.map((t) => [t.name, new ort.Tensor('float32', p.tensors.get(t.name)!.data, t.shape)]),
  );
}

/** Benchmarks one trainable mode on the bundled model (a new 5-class head, as in the demo). */
export async function benchVitInference(
  mode: TrainModeKind | TrainMode = 'head',
  opts: VitBenchOptions = {},
): Promise<VitBenchResult> {
  const m = typeof mode === 'string' ? BENCH_MODES[mode] : mode;
  const batch = opts.batch ?? 64;
  const runs = opts.runs ?? 10;
  const threads = opts.threads ?? 2;
  const { config, weights } = await loadViT(opts.dir ?? BUNDLED_VIT_DIR);
  const p = prepareViT(config, weights, { mode: m, numClasses: 5, newHead: true, seed: 0 });
  const set = buildViTGraphSet(p);
  const [ih, iw] = config.imageSize;
  const raw = new Uint8Array(batch * config.numChannels * ih * iw);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24; // deterministic pseudo-pixels
  const x = new ort.Tensor('float32', preprocessPixels(config, raw), [batch, config.numChannels * ih * iw]);
  const y = new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 5)),
    [batch],
  );
  const tf = trainableFeeds(p);
  const full = await rowsPerSec(set.full, { x, y, ...tf }, batch, runs, threads);
  const result: VitBenchResult = {
    inference_rows_per_sec: full,
    trainable_params: p.trainable.reduce((a, s) => a + s.shape.reduce((u, v) => u * v, 1), 0),
  };
  if (set.split) {
    const pre = await ort.InferenceSession.create(set.split.prefix, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    const h = (await pre.run({ x }))[set.split.value.name]!;
    await pre.release();
    const suffix = await rowsPerSec(
      set.split.suffix,
      { [set.split.value.name]: h, y, ...tf },
      batch,
      runs,
      threads,
    );
    result.suffix_rows_per_sec = suffix;
    result.prefix_reuse_speedup = suffix / full;
  }
  return result;
}

export interface VitTrainingBenchOptions {
  batch?: number;
  /** Steps per timed round; rows per second is measured per round (median over rounds). */
  stepsPerRound?: number;
  rounds?: number;
  /** Untimed steps first (JIT, ORT's first runs). */
  warmupSteps?: number;
  /** ORT intra-op threads (as in benchVitInference, so the ratio compares like with like). */
  threads?: number;
  /** The same mode's inference numbers, when already measured (otherwise benchVitInference runs). */
  inference?: VitBenchResult;
  /** Checkpoint folder (default: the bundled model). */
  dir?: string;
}

export interface VitTrainingBenchResult {
  /**
   * Forward rows per second of the real train() loop (clean pass + queries), counted in the rows the queries run
   * through: suffix rows on cached prefix outputs for modes with a frozen prefix (head, lora, vpt, last-k: the
   * prefix runs once per sample before the clock starts, as in the app), full-graph rows otherwise (bitfit, full).
   */
  training_rows_per_sec: number;
  /**
   * training_rows_per_sec over plain inference rows/s of the graph the queries run through: suffix_rows_per_sec
   * for modes with a frozen prefix, inference_rows_per_sec otherwise. Head mode trains the head in TypeScript on
   * the cached features (as the app does), so its ratio compares that against ORT running the head graph.
   * Both sides run ORT on 64-row batches, but under different session options (the training problem's sessions do
   * not spin idle intra-op threads; the inference bench's use ORT's defaults and full graph optimisation), so on a
   * loaded 2-vCPU machine the ratio has come out above 1.
   */
  overhead_ratio: number;
  ms_per_step: number;
}

/**
 * Training throughput of one mode on the bundled model: the problem the app builds for the mode (prefix features
 * cached once, then the suffix graph through createOnnxClassifierProblem, or the head in TypeScript for head mode)
 * driven by train(): SPSA with n̄ = 10 (LR for head mode), batch 64, Adam, a fixed number of steps. Inputs are
 * deterministic pseudo-pixels of the model's shape: the cost of a forward row does not depend on the pixel values.
 */
export async function benchVitTraining(
  mode: TrainModeKind | TrainMode = 'head',
  opts: VitTrainingBenchOptions = {},
): Promise<VitTrainingBenchResult> {
  const m = typeof mode === 'string' ? BENCH_MODES[mode] : mode;
  const batch = opts.batch ?? 64;
  const perRound = opts.stepsPerRound ?? 3;
  const rounds = opts.rounds ?? 3;
  const warmup = opts.warmupSteps ?? 1;
  const threads = opts.threads ?? 2;
  const dir = opts.dir ?? BUNDLED_VIT_DIR;
  const inference = opts.inference ?? (await benchVitInference(m, { threads, dir, batch }));
  const { config, weights } = await loadViT(dir);
  const p = prepareViT(config, weights, { mode: m, numClasses: 5, newHead: true, seed: 0 });
  const g = vitEngineGraphs(p);
  const [ih, iw] = config.imageSize;
  const inDim = config.numChannels * ih * iw;
  const n = batch * 2;
  const raw = new Uint8Array(n * inDim);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24; // deterministic pseudo-pixels
  const x = preprocessPixels(config, raw);
  const y = Int32Array.from({ length: n }, (_, i) => i % 5);

  let problem: TrainingProblem & { release?: () => Promise<void> };
  let viaSuffix = false;
  if (g.prefix && g.suffix) {
    viaSuffix = true;
    const pre = await ort.InferenceSession.create(g.prefix.bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    const h = (await pre.run({ x: new ort.Tensor('float32', x, [n, inDim]) }))[g.prefix.outputName]!;
    await pre.release();
    const features = h.data as Float32Array;
    const w = g.prefix.featureDim;
    const train = { x: features, y };
    const val = { x: features.subarray(0, batch * w), y: y.subarray(0, batch) };
    problem =
      m.kind === 'head'
        ? createHeadProblem({ train, val, classes: 5, init: g.suffix.initParams().data })
        : await createOnnxClassifierProblem({ model: g.suffix, train, val, intraOpNumThreads: threads });
  } else {
    problem = await createOnnxClassifierProblem({
      model: g.full,
      train: { x, y },
      val: { x: x.subarray(0, batch * inDim), y: y.subarray(0, batch) },
      intraOpNumThreads: threads,
    });
  }
  try {
    const trainConfig = resolveTrainConfig({
      estimator: m.kind === 'head' ? 'lr' : 'spsa',
      batchSize: batch,
      budgetPerSample: 10,
      epochs: 1000,
    });
    const { rates, msPerStep } = await measureTrainingThroughput(problem, trainConfig, {
      warmup,
      rounds,
      perRound,
    });
    const training = median(rates);
    const reference = viaSuffix ? inference.suffix_rows_per_sec : inference.inference_rows_per_sec;
    if (reference === undefined) throw new Error(`vit bench: no suffix inference rate for mode ${m.kind}`);
    return {
      training_rows_per_sec: training,
      overhead_ratio: training / reference,
      ms_per_step: median(msPerStep),
    };
  } finally {
    await problem.release?.();
  }
}
