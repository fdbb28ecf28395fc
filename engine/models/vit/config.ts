// HuggingFace ViT/DeiT config.json + preprocessor_config.json → a typed ViTConfig. Users bring checkpoint folders
// downloaded by other tools, so every field is checked here once and the graph builder can trust the result.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { FormatError, ModelError } from '../../errors.ts';

/** Which HF class wrote the checkpoint; decides the tensor-name prefix and whether a classifier is present. */
export type ViTArchitecture =
  'ViTForImageClassification' | 'ViTModel' | 'DeiTForImageClassification' | 'DeiTModel';

export const SUPPORTED_ARCHITECTURES: readonly ViTArchitecture[] = [
  'ViTForImageClassification',
  'ViTModel',
  'DeiTForImageClassification',
  'DeiTModel',
];

export interface ViTPreprocess {
  /** Multiply raw 0..255 pixels by this first (1/255), when doRescale. */
  rescaleFactor: number;
  doRescale: boolean;
  doNormalize: boolean;
  /** Per channel. */
  mean: number[];
  std: number[];
  /** Whether the processor resizes to imageSize (we only check; resizing is the data pipeline's job). */
  doResize: boolean;
}

export interface ViTConfig {
  architecture: ViTArchitecture;
  modelType: 'vit' | 'deit';
  /** [height, width] of the input image. */
  imageSize: [number, number];
  /** [height, width] of a patch. */
  patchSize: [number, number];
  numChannels: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  qkvBias: boolean;
  /** DeiT adds a distillation token after CLS (position embeddings cover it too). */
  distillationToken: boolean;
  /** Class names of the checkpoint's classifier (index = class id); empty for ViTModel/DeiTModel. */
  labels: string[];
  preprocess: ViTPreprocess;
}

/** Patches per image. */
export function numPatches(c: ViTConfig): number {
  return (c.imageSize[0] / c.patchSize[0]) * (c.imageSize[1] / c.patchSize[1]);
}

/** Tokens the encoder sees without prompts: CLS (+ distillation) + patches. */
export function numTokens(c: ViTConfig): number {
  return numPatches(c) + 1 + (c.distillationToken ? 1 : 0);
}

function pair(v: unknown, field: string, file: string): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0] as number, v[1] as number];
  throw new ModelError(`${file}: ${field} must be a positive integer or [h, w], got ${JSON.stringify(v)}`);
}

function posInt(obj: Record<string, unknown>, field: string, file: string, fallback?: number): number {
  const v = obj[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelError(`${file}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function labelsOf(cfg: Record<string, unknown>, file: string): string[] {
  const id2label = cfg.id2label;
  if (id2label === undefined || id2label === null) {
    const n = cfg.num_labels;
    return typeof n === 'number' && n > 0 ? Array.from({ length: n }, (_, i) => `LABEL_${i}`) : [];
  }
  if (typeof id2label !== 'object') throw new ModelError(`${file}: id2label must be an object`);
  const entries = Object.entries(id2label as Record<string, unknown>);
  const out: string[] = new Array<string>(entries.length);
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length) {
      throw new ModelError(`${file}: id2label keys must be 0..${entries.length - 1}, got '${k}'`);
    }
    out[i] = String(v);
  }
  return out;
}

/**
 * Parses config.json (and preprocessor_config.json when given). `file` names the config in errors. A checkpoint whose
 * architecture or activation we do not implement is a ModelError, not a silently different network.
 */
export function parseViTConfig(config: unknown, preprocessor?: unknown, file = 'config.json'): ViTConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelError(`${file}: not a JSON object`);
  }
  const c = config as Record<string, unknown>;
  const modelType = c.model_type;
  if (modelType !== 'vit' && modelType !== 'deit') {
    throw new ModelError(
      `${file}: unsupported model_type ${JSON.stringify(modelType)} (supported: vit, deit)`,
    );
  }
  const archs = Array.isArray(c.architectures) ? c.architectures : [];
  let architecture: ViTArchitecture;
  if (archs.length === 0) {
    architecture = modelType === 'vit' ? 'ViTModel' : 'DeiTModel';
  } else {
    const a = archs[0];
    if (!SUPPORTED_ARCHITECTURES.includes(a as ViTArchitecture)) {
      throw new ModelError(
        `${file}: unsupported architecture ${JSON.stringify(a)} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`,
      );
    }
    architecture = a as ViTArchitecture;
  }
  const act = c.hidden_act ?? 'gelu';
  if (act !== 'gelu') {
    throw new ModelError(
      `${file}: unsupported hidden_act ${JSON.stringify(act)} (only exact 'gelu' is implemented)`,
    );
  }
  const hiddenSize = posInt(c, 'hidden_size', file);
  const numHeads = posInt(c, 'num_attention_heads', file);
  if (hiddenSize % numHeads !== 0) {
    throw new ModelError(
      `${file}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`,
    );
  }
  const imageSize = pair(c.image_size, 'image_size', file);
  const patchSize = pair(c.patch_size, 'patch_size', file);
  if (imageSize[0] % patchSize[0] !== 0 || imageSize[1] % patchSize[1] !== 0) {
    throw new ModelError(
      `${file}: image_size ${imageSize.join('x')} is not a multiple of patch_size ${patchSize.join('x')}`,
    );
  }
  const eps = c.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelError(`${file}: layer_norm_eps must be positive`);
  const numChannels = posInt(c, 'num_channels', file, 3);
  const isDeit = modelType === 'deit';
  const hasHead =
    architecture === 'ViTForImageClassification' || architecture === 'DeiTForImageClassification';
  return {
    architecture,
    modelType,
    imageSize,
    patchSize,
    numChannels,
    hiddenSize,
    numLayers: posInt(c, 'num_hidden_layers', file),
    numHeads,
    intermediateSize: posInt(c, 'intermediate_size', file),
    layerNormEps: eps,
    qkvBias: c.qkv_bias === undefined ? true : Boolean(c.qkv_bias),
    distillationToken: isDeit,
    labels: hasHead ? labelsOf(c, file) : [],
    preprocess: parsePreprocessor(preprocessor, numChannels),
  };
}

function parsePreprocessor(p: unknown, channels: number): ViTPreprocess {
  const file = 'preprocessor_config.json';
  // HF's ViTImageProcessor defaults (mean = std = 0.5) apply when the file is absent.
  const defaults: ViTPreprocess = {
    rescaleFactor: 1 / 255,
    doRescale: true,
    doNormalize: true,
    mean: new Array<number>(channels).fill(0.5),
    std: new Array<number>(channels).fill(0.5),
    doResize: true,
  };
  if (p === undefined) return defaults;
  if (typeof p !== 'object' || p === null) throw new ModelError(`${file}: not a JSON object`);
  const o = p as Record<string, unknown>;
  const vec = (v: unknown, field: string, dflt: number[]): number[] => {
    if (v === undefined) return dflt;
    const arr = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'number')) {
      throw new ModelError(`${file}: ${field} must be a number or a list of numbers`);
    }
    if (arr.length === 1) return new Array<number>(channels).fill(arr[0] as number);
    if (arr.length !== channels) {
      throw new ModelError(`${file}: ${field} has ${arr.length} values for ${channels} channels`);
    }
    return arr as number[];
  };
  const std = vec(o.image_std, 'image_std', defaults.std);
  if (std.some((s) => !(s > 0))) throw new ModelError(`${file}: image_std must be positive`);
  return {
    rescaleFactor: typeof o.rescale_factor === 'number' ? o.rescale_factor : defaults.rescaleFactor,
    doRescale: o.do_rescale === undefined ? true : Boolean(o.do_rescale),
    doNormalize: o.do_normalize === undefined ? true : Boolean(o.do_normalize),
    mean: vec(o.image_mean, 'image_mean', defaults.mean),
    std,
    doResize: o.do_resize === undefined ? true : Boolean(o.do_resize),
  };
}

async function readJson(path: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (optional && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FormatError(path, `cannot read (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new FormatError(path, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}

/** Reads `dir/config.json` and, if present, `dir/preprocessor_config.json`. */
export async function loadViTConfig(dir: string): Promise<ViTConfig> {
  const cfgPath = join(dir, 'config.json');
  const cfg = await readJson(cfgPath, false);
  const pre = await readJson(join(dir, 'preprocessor_config.json'), true);
  return parseViTConfig(cfg, pre, cfgPath);
}

/**
 * Raw 0..255 pixels (row-major [C, H, W] per image, any number of images) → the normalised float input the graph
 * takes, as the HF image processor would (rescale, then (x − mean) / std per channel).
 */
export function preprocessPixels(
  c: ViTConfig,
  raw: ArrayLike<number>,
  out = new Float32Array(raw.length),
): Float32Array {
  const { preprocess: p, numChannels: C } = c;
  const hw = c.imageSize[0] * c.imageSize[1];
  const scale = p.doRescale ? p.rescaleFactor : 1;
  for (let i = 0; i < raw.length; i++) {
    const ch = Math.floor(i / hw) % C;
    const v = raw[i]! * scale;
    out[i] = p.doNormalize ? (v - p.mean[ch]!) / p.std[ch]! : v;
  }
  return out;
}
