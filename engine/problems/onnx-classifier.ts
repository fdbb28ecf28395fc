// A classifier trained through ONNX Runtime: a ModelGraph (buildMlp, buildSoftmaxRegression, or any graph with the
// same I/O contract) plus in-memory train/validation arrays. SPSA and ES query the model through an
// OnnxLossOracle; with the graph's LR variant (buildMlpLr) the problem also offers LR through every layer. The
// trainable tensors are graph inputs fed as views of θ, so a query costs one ORT run and no parameter copy.
import * as ort from 'onnxruntime-node';

import { ConfigError, ModelError } from '../errors.ts';
import type { LayerLrOracle, LrLayerSpec } from '../estimators/lr-layers.ts';
import { Contraction } from '../models/contraction.ts';
import { SiteContraction, type SiteKind } from '../onnx/lr-contraction.ts';
import type { LrModelGraph, ModelGraph } from '../models/types.ts';
import { predict } from '../onnx/oracle-onnx.ts';
import { OnnxTableLossOracle } from '../onnx/table-oracle.ts';
import {
  createSession,
  ParamFeeds,
  runInto,
  type ParamLayout,
  type ProviderAttempt,
  type ProviderName,
} from '../onnx/session.ts';
import { FlatParams } from '../params.ts';
import type { TrainingProblem } from '../train-helpers.ts';

export interface LabelledRows {
  /** Row-major [n, inDim]. */
  x: Float32Array;
  /** Class labels [n] in [0, numClasses). */
  y: ArrayLike<number | bigint>;
}

export interface OnnxClassifierOptions {
  model: ModelGraph;
  /** The LR variant of the same model (buildMlpLr with the same options, or vitLrGraph): enables `lrLayers`. */
  lrModel?: LayerLrGraph;
  train: LabelledRows;
  val: LabelledRows;
  /** Initial θ in the model's FlatParams order; default model.initParams(). */
  init?: Float32Array;
  /** Execution providers in preference order (default ['cpu']: the built-in models are small). */
  providers?: readonly ProviderName[];
  /** ORT intra-op threads (default: ORT's, one per core). One is as fast at batch 64 on the built-in MLPs. */
  intraOpNumThreads?: number;
  /** Most rows per ORT run (LR queries and evaluation run in chunks of this size). Default 4096. */
  maxRowsPerRun?: number;
}

export interface OnnxClassifierProblem extends TrainingProblem {
  /** The execution provider that runs the model (the first of `providers` that loaded it). */
  readonly provider: ProviderName;
  /** Every provider tried for the model session, with why the ones before `provider` failed. */
  readonly tried: readonly ProviderAttempt[];
  readonly model: ModelGraph;
  /** Also offers the native 'table'-direction fast path (lossesAlongDirection). */
  readonly oracle: OnnxTableLossOracle;
  readonly lrLayers?: OnnxLayerLrOracle;
  /** Frees the ORT sessions; the problem is unusable afterwards. */
  release(): Promise<void>;
}

function rowsOf(set: LabelledRows, inDim: number, classes: number, name: string): BigInt64Array {
  const n = set.y.length;
  if (n === 0) throw new ConfigError(name, 'has no rows');
  if (set.x.length !== n * inDim) {
    throw new ConfigError(name, `${set.x.length} input values are not ${n} rows of ${inDim}`);
  }
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const label = Number(set.y[i]!);
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new ConfigError(name, `label ${String(set.y[i])} of row ${i} is outside [0, ${classes})`);
    }
    y[i] = BigInt(label);
  }
  return y;
}

/** Builds the sessions (provider fallback as in createSession) and returns the problem. */
export async function createOnnxClassifierProblem(
  options: OnnxClassifierOptions,
): Promise<OnnxClassifierProblem> {
  const { model, lrModel } = options;
  const { inDim, numClasses: classes } = model;
  const trainY = rowsOf(options.train, inDim, classes, 'train');
  const valY = rowsOf(options.val, inDim, classes, 'val');
  const trainX = options.train.x;
  const params = options.init
    ? new FlatParams(model.trainable, Float32Array.from(options.init))
    : model.initParams();
  if (lrModel) checkSameTrainables(model, lrModel);
  const sessionOptions = {
    providers: options.providers ?? (['cpu'] as const),
    trainable: model.trainable,
    // Estimators do JS work (directions, θ ± εz, noise) between runs: idle ORT threads must not spin on its core.
    allowSpinning: false,
    ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
  };
  const maxRows = options.maxRowsPerRun ?? 4096;

  const created = await createSession(model.bytes, { ...sessionOptions, label: model.name });
  const { session, provider, tried } = created;
  const oracle = new OnnxTableLossOracle(session, model, params, {
    maxRowsPerRun: maxRows,
    modelBytes: model.bytes,
    // The table variant is the same model with θ + ε·window in front: run it where the model runs.
    session: { ...sessionOptions, providers: [provider], label: model.name },
  });
  let lrLayers: OnnxLayerLrOracle | undefined;
  if (lrModel) {
    try {
      lrLayers = await OnnxLayerLrOracle.create(lrModel, params, {
        ...sessionOptions,
        // The LR graph is the same model with extra inputs/outputs: run it where the model runs.
        providers: [provider],
        maxRowsPerRun: maxRows,
      });
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  // The current batch, gathered into buffers reused while the batch size stays the same.
  let batchX: Float32Array = new Float32Array(0);
  let batchY: BigInt64Array = new BigInt64Array(0);
  let batchSize = 0;
  const feeds = new ParamFeeds(params);
  let cleanLoss: Float32Array = new Float32Array(0);
  let cleanLogits: Float32Array = new Float32Array(0);

  return {
    params,
    trainSize: trainY.length,
    provider,
    tried,
    model,
    oracle,
    ...(lrLayers && { lrLayers }),
    async loadBatch(ids) {
      if (ids.length !== batchSize) {
        batchSize = ids.length;
        batchX = new Float32Array(batchSize * inDim);
        batchY = new BigInt64Array(batchSize);
        cleanLoss = new Float32Array(batchSize);
        cleanLogits = new Float32Array(batchSize * classes);
      }
      for (let r = 0; r < batchSize; r++) {
        const id = ids[r]!;
        if (!(id >= 0 && id < trainY.length)) {
          throw new RangeError(`sample id ${id} is outside the training split [0, ${trainY.length})`);
        }
        batchX.set(trainX.subarray(id * inDim, (id + 1) * inDim), r * inDim);
        batchY[r] = trainY[id]!;
      }
      oracle.setBatch(batchX, batchY);
      lrLayers?.setBatch(batchX, batchY);
    },
    async cleanLosses(theta, out) {
      if (batchSize === 0) throw new Error('onnx classifier: loadBatch() must come before queries');
      // One run for the per-sample losses and the logits: the batch accuracy costs an argmax, no extra rows.
      await runInto(
        session,
        {
          ...feeds.feeds(theta),
          [model.inputName]: new ort.Tensor('float32', batchX, [batchSize, inDim]),
          [model.labelName]: new ort.Tensor('int64', batchY, [batchSize]),
        },
        {
          [model.lossName]: new ort.Tensor('float32', cleanLoss, [batchSize]),
          [model.logitsName]: new ort.Tensor('float32', cleanLogits, [batchSize, classes]),
        },
      );
      let correct = 0;
      for (let r = 0; r < batchSize; r++) {
        out[r] = cleanLoss[r]!;
        let best = 0;
        for (let k = 1; k < classes; k++) {
          if (cleanLogits[r * classes + k]! > cleanLogits[r * classes + best]!) best = k;
        }
        if (BigInt(best) === batchY[r]) correct++;
      }
      return { accuracy: correct / batchSize };
    },
    async evaluate(theta) {
      const result = await predict(session, options.val.x, {
        io: model,
        params: { layout: params, theta },
        labels: valY,
        chunkRows: Math.min(maxRows, 1024),
      });
      return { loss: result.meanLoss!, accuracy: result.accuracy! };
    },
    async release() {
      await oracle.release();
      await session.release();
      await lrLayers?.release();
    },
  };
}

/**
 * An LR graph: the MLP's (buildMlpLr; perturbed layer `index` trains w{index} and b{index}), or one that names the
 * tensors of each noise site itself (`sites`, the ViT's vitLrGraph), with noiseDims[l] = T·m and actDims[l] = T·p
 * (0 where the site has no input). Sites with the same act name share one output.
 */
export type LayerLrGraph = LrModelGraph & { readonly sites?: readonly LrLayerSpec[] };

function checkSameTrainables(model: ModelGraph, lrModel: LrModelGraph): void {
  const key = (g: ModelGraph) => g.trainable.map((s) => `${s.name}[${s.shape.join(',')}]`).join(' ');
  if (
    key(model) !== key(lrModel) ||
    model.inDim !== lrModel.inDim ||
    model.numClasses !== lrModel.numClasses
  ) {
    throw new ModelError(
      `LR graph ${lrModel.name} does not match ${model.name}: trainables ${key(lrModel)} vs ${key(model)}`,
    );
  }
}

/**
 * LayerLrOracle over the LR variant of an MLP (buildMlpLr): noise inputs `noise_l` at every trainable layer's
 * pre-activation, the layer inputs `act_l` as outputs. The first layer's input is the gathered x itself, so it is
 * gathered straight into the caller's act buffer instead of being copied out of the graph.
 */
export class OnnxLayerLrOracle implements LayerLrOracle {
  readonly layers: readonly LrLayerSpec[];
  readonly #feeds: ParamFeeds;
  readonly #maxRows: number;
  #x: Float32Array = new Float32Array(0);
  #y: BigInt64Array = new BigInt64Array(0);
  #batchSize = 0;
  #labels: BigInt64Array = new BigInt64Array(0);
  #scratchX: Float32Array = new Float32Array(0);

  private constructor(
    readonly session: ort.InferenceSession,
    readonly graph: LayerLrGraph,
    readonly layout: ParamLayout,
    readonly contraction: Contraction,
    readonly sites: SiteContraction,
    readonly provider: ProviderName,
    maxRows: number,
  ) {
    this.#feeds = new ParamFeeds(layout);
    this.#maxRows = maxRows;
    const trainable = new Map(layout.specs.map((s) => [s.name, s.shape.join(',')]));
    this.layers = graph.sites
      ? siteSpecs(graph, layout)
      : graph.layers.map((index, l) => {
          const m = graph.noiseDims[l]!;
          const p = graph.actDims[l]!;
          const spec = { weight: `w${index}`, bias: `b${index}`, outDim: m, inDim: p };
          if (trainable.get(spec.weight) !== `${m},${p}` || trainable.get(spec.bias) !== `${m}`) {
            throw new ModelError(
              `${graph.name}: perturbed layer ${index} needs trainable ${spec.weight} [${m}, ${p}] and ${spec.bias} [${m}]`,
            );
          }
          return spec;
        });
    const missing = [...graph.noiseNames, graph.inputName, graph.labelName].filter(
      (n) => !session.inputNames.includes(n),
    );
    missing.push(
      ...[...graph.actNames.filter((n) => n !== ''), graph.lossName].filter(
        (n) => !session.outputNames.includes(n),
      ),
    );
    if (missing.length > 0) throw new ModelError(`${graph.name}: LR graph lacks ${missing.join(', ')}`);
  }

  static async create(
    graph: LayerLrGraph,
    layout: ParamLayout,
    options: {
      providers: readonly ProviderName[];
      trainable: ModelGraph['trainable'];
      intraOpNumThreads?: number;
      allowSpinning?: boolean;
      maxRowsPerRun: number;
    },
  ): Promise<OnnxLayerLrOracle> {
    const { maxRowsPerRun, ...sessionOptions } = options;
    const { session, provider } = await createSession(graph.bytes, { ...sessionOptions, label: graph.name });
    try {
      const contraction = await Contraction.create({
        providers: [provider],
        ...(options.allowSpinning !== undefined && { allowSpinning: options.allowSpinning }),
        ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
      });
      const sites = new SiteContraction({
        providers: [provider],
        ...(options.allowSpinning !== undefined && { allowSpinning: options.allowSpinning }),
        ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
      });
      return new OnnxLayerLrOracle(session, graph, layout, contraction, sites, provider, maxRowsPerRun);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  get batchSize(): number {
    return this.#batchSize;
  }

  /** Sets the current batch: x row-major [B, inDim], y [B]; kept by reference, not copied. */
  setBatch(x: Float32Array, y: BigInt64Array): void {
    if (x.length !== y.length * this.graph.inDim) {
      throw new RangeError(`batch has ${x.length} input values for ${y.length} labels`);
    }
    this.#x = x;
    this.#y = y;
    this.#batchSize = y.length;
  }

  async queries(
    theta: Float32Array,
    rows: Int32Array,
    noise: readonly Float32Array[],
    losses: Float32Array,
    acts: readonly Float32Array[],
  ): Promise<void> {
    const { graph, layers } = this;
    const total = rows.length;
    const d = graph.inDim;
    const L = layers.length;
    if (noise.length !== L || acts.length !== L || losses.length < total) {
      throw new RangeError(`queries: ${noise.length} noise and ${acts.length} act buffers for ${L} layers`);
    }
    layers.forEach((layer, l) => {
      const t = layer.tokens ?? 1;
      if (noise[l]!.length !== total * t * layer.outDim || acts[l]!.length !== total * t * layer.inDim) {
        throw new RangeError(`queries: layer ${l} buffers do not fit ${total} rows`);
      }
    });
    for (const r of rows) {
      if (!(r >= 0 && r < this.#batchSize)) throw new RangeError(`row ${r} is outside the batch`);
    }
    // act_0 is x itself when the MLP's first layer is perturbed: gather into the caller's buffer, skip the output.
    const xIsAct0 = !graph.sites && graph.layers[0] === 0;
    const params = this.#feeds.feeds(theta);
    for (let start = 0; start < total; start += this.#maxRows) {
      const n = Math.min(this.#maxRows, total - start);
      let x: Float32Array;
      if (xIsAct0) {
        x = acts[0]!.subarray(start * d, (start + n) * d);
      } else {
        if (this.#scratchX.length < n * d) this.#scratchX = new Float32Array(n * d);
        x = this.#scratchX.subarray(0, n * d);
      }
      if (this.#labels.length < n) this.#labels = new BigInt64Array(n);
      const y = this.#labels.subarray(0, n);
      for (let j = 0; j < n; j++) {
        const r = rows[start + j]!;
        x.set(this.#x.subarray(r * d, (r + 1) * d), j * d);
        y[j] = this.#y[r]!;
      }
      const feeds: Record<string, ort.Tensor> = {
        ...params,
        [graph.inputName]: new ort.Tensor('float32', x, [n, d]),
        [graph.labelName]: new ort.Tensor('int64', y, [n]),
      };
      const outputs: Record<string, ort.Tensor> = {
        [graph.lossName]: new ort.Tensor('float32', losses.subarray(start, start + n), [n]),
      };
      layers.forEach((layer, l) => {
        const m = graph.noiseDims[l]!;
        feeds[graph.noiseNames[l]!] = new ort.Tensor(
          'float32',
          noise[l]!.subarray(start * m, (start + n) * m),
          [n, m],
        );
        if (l === 0 && xIsAct0) return;
        const p = graph.actDims[l]!;
        // Sites without an input, and those sharing an input already bound (same name, same buffer).
        if (p === 0 || graph.actNames[l]! in outputs) return;
        outputs[graph.actNames[l]!] = new ort.Tensor(
          'float32',
          acts[l]!.subarray(start * p, (start + n) * p),
          [n, p],
        );
      });
      await runInto(this.session, feeds, outputs);
    }
  }

  contract(
    c: Float32Array,
    a: Float32Array,
    rows: number,
    m: number,
    p: number,
    outW: Float32Array,
    outB: Float32Array,
  ): Promise<void> {
    return this.contraction.contract(c, a, rows, m, p, outW, outB);
  }

  contractSite(
    l: number,
    coef: Float32Array,
    noise: Float32Array,
    a: Float32Array,
    rows: number,
    outW: Float32Array | undefined,
    outB: Float32Array | undefined,
  ): Promise<void> {
    const layer = this.layers[l]!;
    const kind: SiteKind = layer.weight === undefined ? 'shift' : layer.diagonal ? 'diagonal' : 'linear';
    const site = { rows, tokens: layer.tokens ?? 1, m: layer.outDim, p: layer.inDim };
    return this.sites.contract(kind, coef, noise, a, site, outW, outB);
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.contraction.release();
    await this.sites.release();
  }
}

/** The named sites of an LR graph, checked against θ's layout and the graph's I/O widths. */
function siteSpecs(graph: LayerLrGraph, layout: ParamLayout): LrLayerSpec[] {
  const sizes = new Map(layout.specs.map((s) => [s.name, s.shape.reduce((a, b) => a * b, 1)]));
  return graph.sites!.map((site, l) => {
    const t = site.tokens ?? 1;
    const bad = (why: string) => new ModelError(`${graph.name}: LR site ${graph.noiseNames[l]} ${why}`);
    if (graph.noiseDims[l] !== t * site.outDim || graph.actDims[l] !== t * site.inDim) {
      throw bad(
        `has widths ${graph.noiseDims[l]}/${graph.actDims[l]}, not ${t}·${site.outDim}/${t}·${site.inDim}`,
      );
    }
    if (site.weight === undefined && site.bias === undefined) throw bad('trains no tensor');
    const wSize = site.diagonal ? site.outDim : site.outDim * site.inDim;
    if (site.weight !== undefined && sizes.get(site.weight) !== wSize) {
      throw bad(`needs trainable ${site.weight} of ${wSize} values`);
    }
    if (site.bias !== undefined && sizes.get(site.bias) !== site.outDim) {
      throw bad(`needs trainable ${site.bias} of ${site.outDim} values`);
    }
    return { ...site, act: graph.actNames[l]! };
  });
}
