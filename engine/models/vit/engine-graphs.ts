// The ViT graphs in the engine's model contract (engine/models/types.ts): ModelGraph for the full graph and the
// trainable suffix, FeatureGraph for the frozen prefix. With these the training loop drives a ViT exactly like the
// built-in MLPs: OnnxLossOracle over the suffix (rows = cached prefix outputs), OnnxFeatureOracle over the prefix.
import type { LrLayerSpec } from '../../estimators/lr-layers.ts';
import { FlatParams, type TensorSpec } from '../../params.ts';
import type { FeatureGraph, LrModelGraph, ModelGraph } from '../types.ts';
import { buildViTGraph, cutValue, defaultCut, lrLayers } from './graph.ts';
import { gatherTrainable, stageOf, type PreparedViT } from './modes.ts';

export interface ViTEngineGraphs {
  /** x [rows, C·H·W] → loss, logits. */
  full: ModelGraph;
  /** Present when a frozen prefix exists: x → the cut value (flat). Run once per sample; cache its rows. */
  prefix?: FeatureGraph;
  /** The cut value [rows, width] → loss, logits: what the estimator's queries run through. */
  suffix?: ModelGraph;
  cut: number;
}

function frozenSpecs(p: PreparedViT, from: number, to: number): TensorSpec[] {
  const trained = new Set(p.trainable.map((s) => s.name));
  return [...p.tensors]
    .filter(([n]) => !trained.has(n) && stageOf(p.config, n) >= from && stageOf(p.config, n) <= to)
    .map(([name, t]) => ({ name, shape: t.shape.slice() }));
}

export function vitEngineGraphs(p: PreparedViT): ViTEngineGraphs {
  const c = p.config;
  const L = c.numLayers;
  const inDim = c.numChannels * c.imageSize[0] * c.imageSize[1];
  const theta0 = gatherTrainable(p);
  const initParams = () => new FlatParams(p.trainable, theta0.slice());
  const io = { labelName: 'y', lossName: 'loss', logitsName: 'logits', numClasses: p.numClasses };
  const full: ModelGraph = {
    name: `vit-${p.mode.kind}`,
    opset: 17,
    bytes: buildViTGraph(p),
    trainable: p.trainable,
    frozen: frozenSpecs(p, 0, L + 2),
    layerDims: [inDim, p.numClasses],
    initParams,
    inputName: 'x',
    inDim,
    ...io,
  };
  const cut = defaultCut(p);
  if (cut < 1) return { full, cut: 0 };
  const v = cutValue(p, cut);
  return {
    full,
    cut,
    prefix: {
      name: `vit-${p.mode.kind}-prefix`,
      bytes: buildViTGraph(p, { part: 'prefix', cut }),
      inputName: 'x',
      outputName: v.name,
      inDim,
      featureDim: v.width,
    },
    suffix: {
      name: `vit-${p.mode.kind}-suffix`,
      opset: 17,
      bytes: buildViTGraph(p, { part: 'suffix', cut }),
      trainable: p.trainable,
      frozen: frozenSpecs(p, cut, L + 2),
      layerDims: [v.width, p.numClasses],
      initParams,
      inputName: v.name,
      inDim: v.width,
      ...io,
    },
  };
}

/**
 * The LR variant (spec §2.1, noise at every trainable linear, LayerNorm, bias and prompt output) of the graph the
 * queries run through: the suffix when a frozen prefix exists, else the full graph. Same trainables and I/O as that
 * graph plus a `noise:<site>` input and the sites' `act:<value>` outputs, and `sites` naming the tensors each one
 * trains (OnnxLayerLrOracle's LayerLrGraph). Throws ConfigError when a trainable tensor is out of LR's reach.
 */
export function vitLrGraph(
  p: PreparedViT,
  graphs: ViTEngineGraphs = vitEngineGraphs(p),
): LrModelGraph & { sites: LrLayerSpec[] } {
  const base = graphs.suffix ?? graphs.full;
  const opts = graphs.suffix ? { part: 'suffix' as const, cut: graphs.cut } : {};
  const io = lrLayers(p, opts);
  const sites = io.map((s) => ({
    ...(s.weight !== undefined && { weight: s.weight }),
    ...(s.bias !== undefined && { bias: s.bias }),
    ...(s.diagonal && { diagonal: true }),
    outDim: s.out,
    inDim: s.in,
    tokens: s.tokens,
  }));
  return {
    ...base,
    name: `${base.name}-lr`,
    bytes: buildViTGraph(p, { ...opts, lrNoise: true }),
    layers: io.map((_, l) => l),
    noiseNames: io.map((s) => s.noiseName),
    noiseDims: io.map((s) => s.tokens * s.out),
    actNames: io.map((s) => s.actName),
    actDims: io.map((s) => (s.actName === '' ? 0 : s.tokens * s.in)),
    sites,
  };
}
