// From (model folder, dataset cache, trainable mode) to the engine's TrainingProblem. The frozen prefix runs once
// per sample here, before training (spec §7, Figure 1's φ₁); the queries then only run the trainable suffix. In
// head mode the suffix is one linear layer, which the engine evaluates in TypeScript (no ORT call per query).
import { DatasetCache } from '../datasets/cache.ts';
import { ConfigError } from '../../engine/errors.ts';
import { vitEngineGraphs, vitLrGraph } from '../../engine/models/vit/engine-graphs.ts';
import {
  loadViT,
  prepareViT,
  type PreparedViT,
  type TrainMode,
  type ViTConfig,
  type ViTWeights,
} from '../../engine/models/vit/index.ts';
import { OnnxFeatureOracle } from '../../engine/onnx/oracle-onnx.ts';
import { createSession, type ProviderName } from '../../engine/onnx/session.ts';
import { defaultProviders } from '../providers.ts';
import { createHeadProblem } from '../../engine/problems/head.ts';
import { createOnnxClassifierProblem } from '../../engine/problems/onnx-classifier.ts';
import type { TrainingProblem } from '../../engine/train-helpers.ts';
import { buildOnnxProblem } from './problem-onnx.ts';
import type { RunMode } from './spec.ts';
import { readSplitRows, runSplitIndices, type SplitRows } from './split-rows.ts';

export interface ProblemRequest {
  modelDir: string;
  datasetCachePath: string;
  /** A ViT mode, or what an imported ONNX classifier trains (problem-onnx.ts). */
  mode: RunMode;
  seed: number;
  evalSplit: 'val' | 'test';
  kShot?: number;
  providers?: readonly ProviderName[];
  threads?: number;
  /** The run's estimator: 'lr' outside head mode also builds the LR graph (noise at every trainable linear,
   * LayerNorm, bias and prompt output), so LR trains the mode's tensors, not only the head. */
  estimator?: 'spsa' | 'lr' | 'es';
}

export interface BuiltProblem {
  problem: TrainingProblem;
  /** The execution provider that really runs the graphs. */
  provider: string;
  classes: string[];
  trainSize: number;
  evalSize: number;
  trainableParams: number;
  /** Milliseconds spent running the frozen prefix over every sample (once per run). */
  prefixMs: number;
}

/**
 * The ViT a run trains: a new head for the dataset's classes, the mode's trainable tensors, seeded by the run's seed.
 * Shared by buildProblem and the model export, so a checkpoint's θ always lands on the same tensors.
 */
export function prepareRunViT(
  config: ViTConfig,
  weights: ViTWeights,
  opts: { mode: TrainMode; seed: number; classes: readonly string[] },
): PreparedViT {
  return prepareViT(config, weights, {
    mode: opts.mode,
    numClasses: opts.classes.length,
    labels: [...opts.classes],
    newHead: true,
    seed: opts.seed,
  });
}

export async function buildProblem(req: ProblemRequest): Promise<BuiltProblem> {
  // An imported .onnx classifier (model/import keeps its file path) has its own builder.
  if (req.mode.kind === 'onnx' || /\.onnx$/i.test(req.modelDir)) return buildOnnxProblem(req);
  const cache = await DatasetCache.open(req.datasetCachePath);
  try {
    const { config, weights } = await loadViT(req.modelDir);
    const rec = cache.record;
    const [h, w] = config.imageSize;
    if (rec.height !== h || rec.width !== w || rec.channels !== config.numChannels) {
      throw new ConfigError(
        'datasetVersionId',
        `dataset images are ${rec.width}x${rec.height}x${rec.channels}; the model needs ${w}x${h}x${config.numChannels}` +
          ' (re-import the dataset with the model preprocessing)',
      );
    }
    const pre = config.preprocess;
    const norm = {
      rescale: pre.doRescale ? pre.rescaleFactor : 1,
      mean: pre.doNormalize ? pre.mean : [0],
      std: pre.doNormalize ? pre.std : [1],
    };

    const { trainIdx, evalIdx } = runSplitIndices(cache, req);
    const [train, evaluation] = [
      await readSplitRows(cache, trainIdx, norm, 'nchw'),
      await readSplitRows(cache, evalIdx, norm, 'nchw'),
    ];

    const prepared = prepareRunViT(config, weights, { mode: req.mode, seed: req.seed, classes: rec.classes });
    const graphs = vitEngineGraphs(prepared);
    const sessionOptions = { providers: req.providers ?? defaultProviders(), intraOpNumThreads: req.threads };
    const trainableParams = prepared.trainable.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    const base = {
      classes: rec.classes,
      trainSize: trainIdx.length,
      evalSize: evalIdx.length,
      trainableParams,
    };

    // Built before the prefix runs, so a mode LR cannot train fails at once (ConfigError naming the tensors).
    const lrModel =
      req.estimator === 'lr' && req.mode.kind !== 'head' ? vitLrGraph(prepared, graphs) : undefined;
    if (!graphs.prefix || !graphs.suffix) {
      const problem = await createOnnxClassifierProblem({
        model: graphs.full,
        ...(lrModel && { lrModel }),
        train,
        val: evaluation,
        ...sessionOptions,
      });
      return { ...base, problem, provider: problem.provider, prefixMs: 0 };
    }

    // φ₁ once per sample: the prefix's outputs are the suffix's inputs for every query of every epoch.
    const started = performance.now();
    const prefix = await createSession(graphs.prefix.bytes, sessionOptions);
    const oracle = new OnnxFeatureOracle(prefix.session, graphs.prefix);
    const features = async (split: SplitRows): Promise<SplitRows> => {
      oracle.setBatch(split.x, split.y);
      const rows = Int32Array.from({ length: split.y.length }, (_, i) => i);
      return { x: await oracle.features(rows), y: split.y };
    };
    const [trainFeatures, evalFeatures] = [await features(train), await features(evaluation)];
    await prefix.session.release();
    const prefixMs = performance.now() - started;

    if (req.mode.kind === 'head') {
      const problem = createHeadProblem({
        train: trainFeatures,
        val: evalFeatures,
        classes: rec.classes.length,
        init: graphs.suffix.initParams().data,
      });
      return { ...base, problem, provider: prefix.provider, prefixMs };
    }
    const problem = await createOnnxClassifierProblem({
      model: graphs.suffix,
      ...(lrModel && { lrModel }),
      train: trainFeatures,
      val: evalFeatures,
      ...sessionOptions,
    });
    return { ...base, problem, provider: problem.provider, prefixMs };
  } finally {
    await cache.close();
  }
}
