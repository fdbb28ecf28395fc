// Built-in classifier graphs: softmax regression (an MLP without hidden layers) and ReLU MLPs, with per-row
// cross-entropy computed in the graph. These are the small models the estimators and allocators are tested and
// benchmarked on before a ViT, so they follow the same contract: trainable tensors are graph INPUTS (fed from
// FlatParams views each query), frozen ones are initializers.
//
// Graph I/O: x [rows, inDim] float32, y [rows] int64, w0, b0, w1, b1, … → loss [rows], logits [rows, classes].
import { ConfigError } from '../errors.ts';
import { GraphBuilder } from '../onnx/graph.ts';
import { FlatParams, type TensorSpec } from '../params.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { linear, perRowCrossEntropy } from './layers.ts';
import type { FeatureGraph, LrModelGraph, ModelGraph } from './types.ts';

export const MODEL_OPSET = 17;
const ROWS = 'rows';

export interface MlpOptions {
  inDim: number;
  /** Hidden layer widths; [] is softmax regression. */
  hidden?: readonly number[];
  numClasses: number;
  /** Seeds the initial weights (every layer draws from its own stream, deriveSeed(seed, layer)). */
  seed: number;
  /** Leading layers baked into the graph as frozen initializers (default 0: everything trainable). */
  frozenLayers?: number;
  /** Values replacing the seeded init of named tensors (e.g. trained weights of the layers being frozen). */
  weights?: Readonly<Record<string, Float32Array>>;
  name?: string;
}

interface Layer {
  index: number;
  fanIn: number;
  fanOut: number;
  w: TensorSpec;
  b: TensorSpec;
}

function checkDim(field: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(field, `must be a positive integer, got ${v}`);
}

function layersOf(o: MlpOptions): { dims: number[]; layers: Layer[]; frozen: number } {
  checkDim('model.inDim', o.inDim);
  checkDim('model.numClasses', o.numClasses);
  const hidden = o.hidden ?? [];
  hidden.forEach((h, i) => checkDim(`model.hidden[${i}]`, h));
  const dims = [o.inDim, ...hidden, o.numClasses];
  const layers = dims.slice(1).map((fanOut, index) => {
    const fanIn = dims[index]!;
    return {
      index,
      fanIn,
      fanOut,
      w: { name: `w${index}`, shape: [fanOut, fanIn] },
      b: { name: `b${index}`, shape: [fanOut] },
    };
  });
  const frozen = o.frozenLayers ?? 0;
  if (!Number.isSafeInteger(frozen) || frozen < 0 || frozen >= layers.length) {
    throw new ConfigError(
      'model.frozenLayers',
      `must be an integer in [0, ${layers.length - 1}], got ${frozen}`,
    );
  }
  return { dims, layers, frozen };
}

/**
 * The seeded initial value of one layer's weight and bias: He-normal (std √(2/fan_in)) for layers followed by
 * ReLU, Xavier-normal (std √(2/(fan_in+fan_out))) for the head, zero biases. Overrides from `weights` win.
 */
function layerInit(o: MlpOptions, layer: Layer, isHead: boolean): { w: Float32Array; b: Float32Array } {
  const given = (spec: TensorSpec): Float32Array | undefined => {
    const v = o.weights?.[spec.name];
    if (v === undefined) return undefined;
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (v.length !== size)
      throw new ConfigError(`model.weights.${spec.name}`, `has ${v.length} values, expected ${size}`);
    return v;
  };
  let w = given(layer.w);
  if (w === undefined) {
    w = new Float32Array(layer.fanIn * layer.fanOut);
    new Rng(deriveSeed(o.seed, layer.index)).fillGaussian(w);
    const std = isHead ? Math.sqrt(2 / (layer.fanIn + layer.fanOut)) : Math.sqrt(2 / layer.fanIn);
    for (let i = 0; i < w.length; i++) w[i] = w[i]! * std;
  }
  return { w, b: given(layer.b) ?? new Float32Array(layer.fanOut) };
}

interface BuildResult {
  g: GraphBuilder;
  layers: Layer[];
  dims: number[];
  frozen: number;
  init: Map<string, Float32Array>;
  acts: { name: string; dim: number; layer: number }[];
  noises: { name: string; dim: number; layer: number }[];
}

/** Builds the layer stack; with `lr`, adds noise inputs at trainable layers' pre-activations and act outputs. */
function buildStack(o: MlpOptions, graphName: string, lr: boolean): BuildResult {
  const { dims, layers, frozen } = layersOf(o);
  const g = new GraphBuilder(graphName, MODEL_OPSET);
  const x = g.input('x', 'float32', [ROWS, o.inDim]);
  const y = g.input('y', 'int64', [ROWS]);
  const init = new Map<string, Float32Array>();
  const acts: BuildResult['acts'] = [];
  const noises: BuildResult['noises'] = [];
  // Trainable inputs are declared in FlatParams order (w0, b0, w1, b1, …) right after x and y.
  for (const layer of layers) {
    const head = layer.index === layers.length - 1;
    const { w, b } = layerInit(o, layer, head);
    if (layer.index < frozen) {
      g.initializer(layer.w.name, w, layer.w.shape);
      g.initializer(layer.b.name, b, layer.b.shape);
    } else {
      g.input(layer.w.name, 'float32', layer.w.shape);
      g.input(layer.b.name, 'float32', layer.b.shape);
      init.set(layer.w.name, w);
      init.set(layer.b.name, b);
    }
  }
  let a = x;
  for (const layer of layers) {
    const head = layer.index === layers.length - 1;
    const perturbed = lr && layer.index >= frozen;
    if (perturbed) {
      const act = `act_${layer.index}`;
      acts.push({
        name: g.output(a, 'float32', [ROWS, layer.fanIn], act),
        dim: layer.fanIn,
        layer: layer.index,
      });
      noises.push({ name: `noise_${layer.index}`, dim: layer.fanOut, layer: layer.index });
    }
    const preName = head && !perturbed ? 'logits' : undefined;
    let h = linear(g, a, layer.w.name, layer.b.name, preName);
    if (perturbed) {
      const noise = g.input(`noise_${layer.index}`, 'float32', [ROWS, layer.fanOut]);
      h = g.node('Add', [h, noise], head ? ['logits'] : 1)[0]!;
    }
    a = head ? h : g.op('Relu', [h]);
  }
  g.output('logits', 'float32', [ROWS, o.numClasses]);
  perRowCrossEntropy(g, 'logits', y, 'loss');
  g.output('loss', 'float32', [ROWS]);
  return { g, layers, dims, frozen, init, acts, noises };
}

function describe(o: MlpOptions, r: BuildResult, name: string): ModelGraph {
  const trainable = r.layers.filter((l) => l.index >= r.frozen).flatMap((l) => [l.w, l.b]);
  const frozen = r.layers.filter((l) => l.index < r.frozen).flatMap((l) => [l.w, l.b]);
  const init = r.init;
  return {
    name,
    opset: MODEL_OPSET,
    bytes: r.g.toBytes(),
    trainable,
    frozen,
    layerDims: r.dims,
    inputName: 'x',
    labelName: 'y',
    lossName: 'loss',
    logitsName: 'logits',
    inDim: o.inDim,
    numClasses: o.numClasses,
    initParams(): FlatParams {
      const params = new FlatParams(trainable);
      for (const spec of trainable) params.view(spec.name).set(init.get(spec.name)!);
      return params;
    },
  };
}

function defaultName(o: MlpOptions, suffix = ''): string {
  const dims = [o.inDim, ...(o.hidden ?? []), o.numClasses].join('-');
  return o.name ?? `${(o.hidden ?? []).length === 0 ? 'softmax' : 'mlp'}-${dims}${suffix}`;
}

/** A ReLU MLP classifier with per-row CE. */
export function buildMlp(o: MlpOptions): ModelGraph {
  const name = defaultName(o);
  return describe(o, buildStack(o, name, false), name);
}

/** Softmax regression: logits = x Wᵀ + b, per-row CE. */
export function buildSoftmaxRegression(o: Omit<MlpOptions, 'hidden' | 'frozenLayers'>): ModelGraph {
  return buildMlp({ ...o, hidden: [], frozenLayers: 0 });
}

/**
 * The LR variant (§2.1): every trainable layer l takes `noise_l` [rows, m_l] (already σ-scaled, zeros for a
 * clean pass) added to its pre-activation, and outputs its input `act_l` [rows, p_l], so that the gradient
 * Σ_r c_r ε_r a_rᵀ can be formed from (loss, noise, act) of the same queries. `logits` are the noisy logits.
 */
export function buildMlpLr(o: MlpOptions): LrModelGraph {
  const name = defaultName(o, '-lr');
  const r = buildStack(o, name, true);
  return {
    ...describe(o, r, name),
    layers: r.noises.map((n) => n.layer),
    noiseNames: r.noises.map((n) => n.name),
    noiseDims: r.noises.map((n) => n.dim),
    actNames: r.acts.map((a) => a.name),
    actDims: r.acts.map((a) => a.dim),
  };
}

/**
 * The frozen prefix of an MLP for LR at the head: x → ReLU(…) of every hidden layer, all weights initializers
 * (seeded as in buildMlp with the same seed, or taken from `weights`). Output `features` [rows, hidden.at(-1)].
 */
export function buildMlpFeatures(o: MlpOptions): FeatureGraph {
  const { layers } = layersOf(o);
  const hiddenLayers = layers.slice(0, -1);
  if (hiddenLayers.length === 0)
    throw new ConfigError('model.hidden', 'a feature prefix needs at least one hidden layer');
  const name = o.name ?? `${defaultName(o)}-features`;
  const g = new GraphBuilder(name, MODEL_OPSET);
  let a = g.input('x', 'float32', [ROWS, o.inDim]);
  for (const layer of hiddenLayers) {
    const { w, b } = layerInit(o, layer, false);
    g.initializer(layer.w.name, w, layer.w.shape);
    g.initializer(layer.b.name, b, layer.b.shape);
    const last = layer.index === hiddenLayers.length - 1;
    a = g.node('Relu', [linear(g, a, layer.w.name, layer.b.name)], last ? ['features'] : 1)[0]!;
  }
  const featureDim = hiddenLayers.at(-1)!.fanOut;
  g.output('features', 'float32', [ROWS, featureDim]);
  return { name, bytes: g.toBytes(), inputName: 'x', outputName: 'features', inDim: o.inDim, featureDim };
}

/** Every layer's seeded initial tensors by name (trainable or not), e.g. to build matching frozen prefixes. */
export function mlpInitialWeights(o: MlpOptions): Record<string, Float32Array> {
  const { layers } = layersOf(o);
  const out: Record<string, Float32Array> = {};
  for (const layer of layers) {
    const { w, b } = layerInit(o, layer, layer.index === layers.length - 1);
    out[layer.w.name] = w;
    out[layer.b.name] = b;
  }
  return out;
}
