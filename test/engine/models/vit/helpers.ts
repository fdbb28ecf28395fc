// Shared fixtures for the ViT tests: small random-weight configs and an ORT runner.
import * as ort from 'onnxruntime-node';

import { parseViTConfig, type ViTConfig } from '../../../../engine/models/vit/config.ts';
import { backboneShapes, headShapes, type ViTWeights } from '../../../../engine/models/vit/weights.ts';

/** A deterministic LCG so test weights never depend on Math.random. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function randn(n: number, rnd: () => number, std = 1, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rnd();
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return out;
}

export interface TinyOptions {
  image?: number | [number, number];
  patch?: number;
  channels?: number;
  hidden?: number;
  heads?: number;
  layers?: number;
  mlp?: number;
  qkvBias?: boolean;
  classes?: number;
  eps?: number;
  modelType?: 'vit' | 'deit';
  architecture?: string;
}

export function tinyConfigJson(o: TinyOptions = {}): Record<string, unknown> {
  const classes = o.classes ?? 3;
  const deit = o.modelType === 'deit';
  return {
    architectures: [o.architecture ?? (deit ? 'DeiTForImageClassification' : 'ViTForImageClassification')],
    model_type: o.modelType ?? 'vit',
    image_size: o.image ?? 8,
    patch_size: o.patch ?? 4,
    num_channels: o.channels ?? 1,
    hidden_size: o.hidden ?? 16,
    num_attention_heads: o.heads ?? 2,
    num_hidden_layers: o.layers ?? 2,
    intermediate_size: o.mlp ?? 32,
    hidden_act: 'gelu',
    layer_norm_eps: o.eps ?? 1e-12,
    qkv_bias: o.qkvBias ?? true,
    id2label: Object.fromEntries(Array.from({ length: classes }, (_, i) => [String(i), `c${i}`])),
  };
}

export function tinyConfig(o: TinyOptions = {}): ViTConfig {
  return parseViTConfig(tinyConfigJson(o));
}

/** Random weights with realistic magnitudes (LayerNorm gains near 1) so every path matters numerically. */
export function randomWeights(c: ViTConfig, classes: number, seed = 1): ViTWeights {
  const rnd = lcg(seed);
  const w: ViTWeights = new Map();
  const all = new Map([...backboneShapes(c), ...headShapes(c, classes)]);
  for (const [name, shape] of all) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 2 ? shape[1]! : shape.length === 4 ? shape[1]! * shape[2]! * shape[3]! : 1;
    let data: Float32Array;
    if (/layernorm.*\.weight$/.test(name)) data = randn(n, rnd, 0.1, 1);
    else if (name.endsWith('.bias')) data = randn(n, rnd, 0.1);
    else if (shape.length >= 2 && !name.includes('embeddings.')) data = randn(n, rnd, 1 / Math.sqrt(fanIn));
    else if (name.includes('projection.weight')) data = randn(n, rnd, 1 / Math.sqrt(fanIn));
    else data = randn(n, rnd, 0.5);
    w.set(name, { shape, data });
  }
  return w;
}

export function randomPixels(c: ViTConfig, batch: number, seed = 7): Float32Array {
  return randn(batch * c.numChannels * c.imageSize[0] * c.imageSize[1], lcg(seed));
}

export async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/** Feeds for a graph: named float inputs plus optional int64 labels. */
export function feeds(
  inputs: Record<string, { data: Float32Array; dims: number[] }>,
  labels?: number[],
): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) f[k] = new ort.Tensor('float32', v.data, v.dims);
  if (labels) f.y = new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [labels.length]);
  return f;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
