// The training problem of a run on an imported ONNX classifier (model/import of an .onnx file), from the plan
// onnx-plan.ts makes:
// - the head case (the layer that writes the logits is what trains): the model is cut before that layer, the frozen
//   rest runs once per sample here, and the layer trains in TypeScript like a ViT head, with SPSA or with LR on the
//   logits. A new head is made when the layer's outputs are not the dataset's classes;
// - any other set of float initializers: they become graph inputs fed as views of θ (importOnnxClassifier). The
//   graph is cut at its frozen frontier (engine/onnx/cut.ts): the part that reads no trainable runs once per
//   sample here and is cached, and every query (SPSA or ES) runs only the rest through ORT, as a ViT mode's suffix
//   does. Without such a part (a trainable in the first layer) every query runs the whole model.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import * as ort from 'onnxruntime-node';

import { InvalidConfigError } from '../../engine/config.ts';
import { ConfigError, FormatError } from '../../engine/errors.ts';
import {
  importOnnxClassifier,
  onnxPrefixModel,
  readOnnxInitializer,
} from '../../engine/models/vit/onnx-import.ts';
import type { ModelGraph } from '../../engine/models/types.ts';
import { cutFrozenPrefix } from '../../engine/onnx/cut.ts';
import { OnnxFeatureOracle } from '../../engine/onnx/oracle-onnx.ts';
import { createSession, type ProviderName } from '../../engine/onnx/session.ts';
import { FlatParams } from '../../engine/params.ts';
import { createHeadProblem, initHead } from '../../engine/problems/head.ts';
import { createOnnxClassifierProblem } from '../../engine/problems/onnx-classifier.ts';
import { DatasetCache } from '../datasets/cache.ts';
import type { DatasetVersionRecord } from '../datasets/types.ts';
import { defaultProviders } from '../providers.ts';
import { planOnnxRun, type OnnxRunPlan } from './onnx-plan.ts';
import type { BuiltProblem, ProblemRequest } from './problem.ts';
import { readSplitRows, runSplitIndices, type SplitRows } from './split-rows.ts';

export interface Normalization {
  rescale: number;
  mean: number[];
  std: number[];
}

/**
 * How pixels are normalised for the model: an HF preprocessor_config.json beside the .onnx file (the optimum
 * export layout) says it; without one, the dataset's own preprocessing does (its cache was made for the model).
 */
export async function normalization(modelFile: string, rec: DatasetVersionRecord): Promise<Normalization> {
  const file = join(dirname(modelFile), 'preprocessor_config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { rescale: rec.preprocess.rescale, mean: rec.preprocess.mean, std: rec.preprocess.std };
  }
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError(file, `not JSON (${(cause as Error).message})`, { cause });
  }
  const list = (v: unknown, fallback: number): number[] =>
    typeof v === 'number' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'number') ? v : [fallback];
  const normalize = hf.do_normalize !== false;
  return {
    rescale:
      hf.do_rescale === false ? 1 : typeof hf.rescale_factor === 'number' ? hf.rescale_factor : 1 / 255,
    mean: normalize ? list(hf.image_mean, 0) : [0],
    std: normalize ? list(hf.image_std, 1) : [1],
  };
}

/** The head's θ = [W (classes × p), b (classes)] from the model's layer (W stored [p, classes] or [classes, p]). */
function headInit(bytes: Uint8Array, file: string, head: NonNullable<OnnxRunPlan['head']>): Float32Array {
  const { inDim: p, outDim: k } = head;
  const w = readOnnxInitializer(bytes, head.weight, file).data;
  const theta = new Float32Array(k * p + k);
  for (let o = 0; o < k; o++) {
    for (let i = 0; i < p; i++) theta[o * p + i] = head.layout === 'out-in' ? w[o * p + i]! : w[i * k + o]!;
  }
  if (head.bias) theta.set(readOnnxInitializer(bytes, head.bias, file).data, k * p);
  return theta;
}

/** The cached prefix outputs of a run may take at most this much memory; a wider cut runs the whole graph. */
const MAX_CUT_BYTES = 1 << 30;

export interface OnnxBuildOptions {
  /**
   * Cut off the frozen prefix and cache it (default true). false runs every query through the whole graph: the
   * reference the cut is measured and tested against.
   */
  prefixReuse?: boolean;
}

/** The first two rows of the run's images (the train split's, topped up from the eval split's): the cut's probe. */
function probeRows(train: SplitRows, evaluation: SplitRows, rowSize: number): Float32Array {
  const out = new Float32Array(2 * rowSize);
  const own = Math.min(2, train.y.length);
  out.set(train.x.subarray(0, own * rowSize));
  out.set(evaluation.x.subarray(0, (2 - own) * rowSize), own * rowSize);
  return out;
}

export async function buildOnnxProblem(
  req: ProblemRequest,
  options: OnnxBuildOptions = {},
): Promise<BuiltProblem> {
  const file = req.modelDir;
  const bytes = new Uint8Array(await readFile(file));
  const cache = await DatasetCache.open(req.datasetCachePath);
  try {
    const rec = cache.record;
    const classes = rec.classes.length;
    const shape = { height: rec.height, width: rec.width, channels: rec.channels, classes };
    // The estimator was checked by run/validate; the builder only needs what to train and how to feed it.
    const planned = planOnnxRun(bytes, file, req.mode, shape, undefined);
    if (!planned.plan) {
      throw new InvalidConfigError(planned.issues.map((i) => new ConfigError(i.field, i.message)));
    }
    const plan = planned.plan;
    const norm = await normalization(file, rec);

    // The same k-shot draw as a ViT run's (problem.ts), so the two kinds of model see the same images.
    const { trainIdx, evalIdx } = runSplitIndices(cache, req);
    const train = await readSplitRows(cache, trainIdx, norm, plan.layout);
    const evaluation = await readSplitRows(cache, evalIdx, norm, plan.layout);
    const sessionOptions = { providers: req.providers ?? defaultProviders(), intraOpNumThreads: req.threads };
    const base = { classes: rec.classes, trainSize: trainIdx.length, evalSize: evalIdx.length };

    if (plan.head) {
      const head = plan.head;
      // φ₁ once per sample: the model up to the output layer's input gives the head's features.
      const started = performance.now();
      const prefix = await createSession(onnxPrefixModel(bytes, head.features, file), {
        ...sessionOptions,
        label: `${basename(file)} (features)`,
      });
      const rowSize = plan.rowShape.reduce((a, b) => a * b, 1);
      const features = async (rows: SplitRows): Promise<{ x: Float32Array; y: Int32Array }> => {
        // A linear classifier on the (flat) input: the rows are the features, and the prefix is empty.
        if (head.features === plan.inputName && rowSize === head.inDim) return rows;
        const n = rows.y.length;
        const out = new Float32Array(n * head.inDim);
        for (let start = 0; start < n; start += 256) {
          const m = Math.min(256, n - start);
          const x = rows.x.subarray(start * rowSize, (start + m) * rowSize);
          const result = await prefix.session.run({
            [plan.inputName]: new ort.Tensor('float32', x, [m, ...plan.rowShape]),
          });
          const f = result[head.features]!.data as Float32Array;
          if (f.length !== m * head.inDim) {
            throw new FormatError(
              file,
              `'${head.features}' has ${f.length / m} values per row, expected ${head.inDim}`,
            );
          }
          out.set(f, start * head.inDim);
        }
        return { x: out, y: rows.y };
      };
      const [trainFeatures, evalFeatures] = [await features(train), await features(evaluation)];
      await prefix.session.release();
      const prefixMs = performance.now() - started;
      const init = head.newHead ? initHead(head.inDim, classes, req.seed).data : headInit(bytes, file, head);
      const problem = createHeadProblem({ train: trainFeatures, val: evalFeatures, classes, init });
      return {
        ...base,
        problem,
        provider: prefix.provider,
        trainableParams: init.length,
        prefixMs,
      };
    }

    const imported = importOnnxClassifier(bytes, {
      trainable: plan.trainable,
      rowShape: plan.rowShape,
      ...(plan.logits ? { logits: plan.logits } : {}),
      input: plan.inputName,
      file,
    });
    const inDim = plan.rowShape.reduce((a, b) => a * b, 1);
    const model: ModelGraph = {
      name: basename(file),
      opset: imported.opset,
      bytes: imported.bytes,
      trainable: imported.trainable,
      frozen: [],
      layerDims: [inDim, classes],
      initParams: () => new FlatParams(imported.trainable, imported.theta0.slice()),
      inputName: imported.inputName,
      labelName: imported.labelName,
      lossName: imported.lossName,
      logitsName: imported.logitsName,
      inDim,
      numClasses: classes,
    };

    if (options.prefixReuse !== false) {
      const cached = await cachedPrefix(model, file, train, evaluation, sessionOptions);
      if (cached) {
        const problem = await createOnnxClassifierProblem({
          model: cached.suffix,
          train: cached.train,
          val: cached.evaluation,
          ...sessionOptions,
        });
        return {
          ...base,
          problem,
          provider: problem.provider,
          trainableParams: imported.theta0.length,
          prefixMs: cached.prefixMs,
        };
      }
    }
    const problem = await createOnnxClassifierProblem({ model, train, val: evaluation, ...sessionOptions });
    return {
      ...base,
      problem,
      provider: problem.provider,
      trainableParams: imported.theta0.length,
      prefixMs: 0,
    };
  } finally {
    await cache.close();
  }
}

/**
 * φ₁ once per sample for a graph whose trainables start after some frozen work: the graph is cut at its frozen
 * frontier, the prefix runs over every train and eval row, and the suffix (cut row, y, θ → logits, loss) is the
 * model the queries run. Undefined when there is nothing to cut off, or when the cache would be too large.
 */
async function cachedPrefix(
  model: ModelGraph,
  file: string,
  train: SplitRows,
  evaluation: SplitRows,
  sessionOptions: { providers: readonly ProviderName[]; intraOpNumThreads?: number | undefined },
): Promise<{ suffix: ModelGraph; train: SplitRows; evaluation: SplitRows; prefixMs: number } | undefined> {
  const started = performance.now();
  const { cut } = await cutFrozenPrefix(model.bytes, {
    rowsInput: model.inputName,
    rowShape: [model.inDim],
    probeRows: probeRows(train, evaluation, model.inDim),
    file,
  });
  if (!cut || 4 * cut.width * (train.y.length + evaluation.y.length) > MAX_CUT_BYTES) return undefined;
  const prefix = await createSession(cut.prefix, { ...sessionOptions, label: `${basename(file)} (prefix)` });
  const oracle = new OnnxFeatureOracle(prefix.session, {
    inputName: model.inputName,
    outputName: cut.cutName,
    inDim: model.inDim,
    featureDim: cut.width,
  });
  const features = async (rows: SplitRows): Promise<SplitRows> => {
    oracle.setBatch(rows.x, rows.y);
    return { x: await oracle.features(Int32Array.from(rows.y, (_, i) => i)), y: rows.y };
  };
  let cachedTrain: SplitRows;
  let cachedEval: SplitRows;
  try {
    [cachedTrain, cachedEval] = [await features(train), await features(evaluation)];
  } finally {
    await prefix.session.release();
  }
  return {
    suffix: {
      ...model,
      name: `${model.name} (suffix)`,
      bytes: cut.suffix,
      inputName: cut.cutName,
      inDim: cut.width,
      layerDims: [cut.width, model.numClasses],
    },
    train: cachedTrain,
    evaluation: cachedEval,
    prefixMs: performance.now() - started,
  };
}
