// Preprocessing that follows a model's preprocessor config: channel conversion, resize (direct, or shortest edge
// then centre crop), and the rescale/normalise constants the loader applies later. The cached pixels are the output
// of everything up to and including the crop, as uint8; see docs/datasets.md.
import { z } from 'zod';

import { ConfigError } from '../../engine/errors.ts';

import { resizeImage, type Resample } from './resize.ts';

export interface PreprocessConfig {
  /** Channels the model takes. 1 <-> 3 conversion happens before resizing. */
  channels: 1 | 3;
  /** Stage 1: resize to an exact size (aspect ratio not kept), or scale the shortest edge to a length. */
  resize: { height: number; width: number } | { shortestEdge: number };
  /** Stage 2: keep a centred window of this size; required after a shortest-edge resize. */
  centerCrop: { height: number; width: number } | null;
  resample: Resample;
  /** Loader constants: value -> (value * rescale - mean[c]) / std[c]. */
  rescale: number;
  mean: number[];
  std: number[];
}

/** Decoded pixels, interleaved (HWC). channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

const size = z.number().int().min(1).max(16384);
const schema = z.object({
  channels: z.union([z.literal(1), z.literal(3)]),
  resize: z.union([z.object({ height: size, width: size }), z.object({ shortestEdge: size })]),
  centerCrop: z.object({ height: size, width: size }).nullable(),
  resample: z.enum(['nearest', 'box', 'bilinear', 'bicubic', 'lanczos']),
  rescale: z.number().positive().finite(),
  mean: z.array(z.number().finite()).min(1),
  std: z.array(z.number().positive().finite()).min(1),
});

function fail(error: z.ZodError, prefix: string): never {
  const issue = error.issues[0]!;
  throw new ConfigError([prefix, ...issue.path.map(String)].join('.'), issue.message);
}

/** Validates a PreprocessConfig (from JSON, the UI or a model bundle) and checks that the crop fits. */
export function parsePreprocessConfig(input: unknown): PreprocessConfig {
  const parsed = schema.safeParse(input);
  if (!parsed.success) fail(parsed.error, 'preprocess');
  const cfg = parsed.data;
  for (const key of ['mean', 'std'] as const) {
    if (cfg[key].length !== 1 && cfg[key].length !== cfg.channels) {
      throw new ConfigError(
        `preprocess.${key}`,
        `has ${cfg[key].length} values for ${cfg.channels} channels`,
      );
    }
  }
  if ('shortestEdge' in cfg.resize) {
    const crop = cfg.centerCrop;
    if (!crop) throw new ConfigError('preprocess.centerCrop', 'is required after a shortest-edge resize');
    if (crop.height > cfg.resize.shortestEdge || crop.width > cfg.resize.shortestEdge) {
      throw new ConfigError('preprocess.centerCrop', 'is larger than the shortest edge it crops from');
    }
  } else if (
    cfg.centerCrop &&
    (cfg.centerCrop.height > cfg.resize.height || cfg.centerCrop.width > cfg.resize.width)
  ) {
    throw new ConfigError('preprocess.centerCrop', 'is larger than the resized image');
  }
  return cfg;
}

/** The cached image shape a config produces. */
export function outputShape(cfg: PreprocessConfig): { height: number; width: number; channels: 1 | 3 } {
  if (cfg.centerCrop) return { ...cfg.centerCrop, channels: cfg.channels };
  if ('shortestEdge' in cfg.resize) throw new ConfigError('preprocess.centerCrop', 'is required');
  return { height: cfg.resize.height, width: cfg.resize.width, channels: cfg.channels };
}

/** The bundled demo backbone's input: 28x28 grey, pixels scaled to [0, 1]. */
export const DEMO_PREPROCESS: PreprocessConfig = {
  channels: 1,
  resize: { height: 28, width: 28 },
  centerCrop: null,
  resample: 'bilinear',
  rescale: 1 / 255,
  mean: [0],
  std: [1],
};

const PIL_RESAMPLE: Record<number, Resample> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
};

const hfSize = z.union([
  z.number().int().positive(),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
  z.object({ shortest_edge: z.number().int().positive() }),
]);
const hfSchema = z.object({
  do_resize: z.boolean().optional(),
  size: hfSize.optional(),
  resample: z.number().int().optional(),
  do_center_crop: z.boolean().optional(),
  crop_size: hfSize.optional(),
  crop_pct: z.number().positive().max(1).optional(),
  do_rescale: z.boolean().optional(),
  rescale_factor: z.number().positive().optional(),
  do_normalize: z.boolean().optional(),
  image_mean: z.union([z.number(), z.array(z.number())]).optional(),
  image_std: z.union([z.number(), z.array(z.number())]).optional(),
});

/**
 * Reads a Hugging Face `preprocessor_config.json` (ViTImageProcessor, DeiT, ConvNeXt style). The channel count is
 * taken from `channels`, else from the length of image_mean (1 or 3), else 3.
 */
export function preprocessFromHf(json: unknown, options: { channels?: 1 | 3 } = {}): PreprocessConfig {
  const parsed = hfSchema.safeParse(json);
  if (!parsed.success) fail(parsed.error, 'preprocessor_config');
  const hf = parsed.data;
  const list = (v: number | number[] | undefined, dflt: number): number[] =>
    v === undefined ? [dflt] : typeof v === 'number' ? [v] : v;
  const normalize = hf.do_normalize ?? true;
  const mean = normalize ? list(hf.image_mean, 0) : [0];
  const std = normalize ? list(hf.image_std, 1) : [1];
  const channels = options.channels ?? (mean.length === 1 ? 1 : 3);
  const resample = PIL_RESAMPLE[hf.resample ?? 2];
  if (!resample) throw new ConfigError('preprocessor_config.resample', `unknown PIL filter ${hf.resample}`);
  const asBox = (s: z.infer<typeof hfSize>): { height: number; width: number } | { shortestEdge: number } =>
    typeof s === 'number'
      ? { height: s, width: s }
      : 'shortest_edge' in s
        ? { shortestEdge: s.shortest_edge }
        : { height: s.height, width: s.width };
  if (hf.do_resize === false || !hf.size) {
    throw new ConfigError(
      'preprocessor_config.size',
      'a fixed model input size is needed (do_resize with size)',
    );
  }
  let resize = asBox(hf.size);
  let centerCrop: { height: number; width: number } | null = null;
  if (hf.do_center_crop !== false && hf.crop_size) {
    const crop = asBox(hf.crop_size);
    if ('shortestEdge' in crop) throw new ConfigError('preprocessor_config.crop_size', 'must be a size');
    centerCrop = crop;
  } else if ('shortestEdge' in resize) {
    // ConvNeXt: below 384 the shortest edge is scaled to size / crop_pct and a size x size centre crop is taken.
    // At 384 and above it resizes straight to size x size.
    const s = resize.shortestEdge;
    if (hf.crop_pct !== undefined && s < 384) {
      resize = { shortestEdge: Math.floor(s / hf.crop_pct) };
      centerCrop = { height: s, width: s };
    } else {
      resize = { height: s, width: s };
    }
  }
  return parsePreprocessConfig({
    channels,
    resize,
    centerCrop,
    resample,
    rescale: hf.do_rescale === false ? 1 : (hf.rescale_factor ?? 1 / 255),
    mean,
    std,
  });
}

/**
 * Channel conversion. Alpha is dropped, not composited, as PIL's convert('RGB') does (what model preprocessors
 * were trained with). RGB -> grey uses ITU-R 601 luma in Pillow's exact integer form, so grey images stored as
 * RGB come back unchanged.
 */
export function convertChannels(img: RawImage, target: 1 | 3): Uint8Array {
  const { data, width, height, channels: c } = img;
  const n = width * height;
  const out = new Uint8Array(n * target);
  if (target === 1) {
    if (c <= 2) {
      for (let i = 0; i < n; i++) out[i] = data[i * c]!;
    } else {
      for (let i = 0; i < n; i++) {
        const s = i * c;
        out[i] = (data[s]! * 19595 + data[s + 1]! * 38470 + data[s + 2]! * 7471 + 0x8000) >>> 16;
      }
    }
  } else if (c <= 2) {
    for (let i = 0; i < n; i++) {
      const v = data[i * c]!;
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    }
  } else if (c === 3) {
    out.set(data.subarray(0, n * 3));
  } else {
    for (let i = 0; i < n; i++) {
      out[i * 3] = data[i * c]!;
      out[i * 3 + 1] = data[i * c + 1]!;
      out[i * 3 + 2] = data[i * c + 2]!;
    }
  }
  return out;
}

/** Decoded image -> cached pixels (HWC uint8 of outputShape(cfg)). Deterministic: pure integer/double arithmetic. */
export function preprocessImage(img: RawImage, cfg: PreprocessConfig): Uint8Array {
  const data = convertChannels(img, cfg.channels);
  let outHeight: number;
  let outWidth: number;
  if ('shortestEdge' in cfg.resize) {
    // As transformers' get_resize_output_image_size: the long side is truncated, not rounded.
    const s = cfg.resize.shortestEdge;
    if (img.height <= img.width) {
      outHeight = s;
      outWidth = Math.max(s, Math.floor((s * img.width) / img.height));
    } else {
      outWidth = s;
      outHeight = Math.max(s, Math.floor((s * img.height) / img.width));
    }
  } else {
    outHeight = cfg.resize.height;
    outWidth = cfg.resize.width;
  }
  const crop = cfg.centerCrop
    ? {
        top: Math.floor((outHeight - cfg.centerCrop.height) / 2),
        left: Math.floor((outWidth - cfg.centerCrop.width) / 2),
        height: cfg.centerCrop.height,
        width: cfg.centerCrop.width,
      }
    : undefined;
  return resizeImage({
    data,
    width: img.width,
    height: img.height,
    channels: cfg.channels,
    outWidth,
    outHeight,
    ...(crop ? { crop } : {}),
    resample: cfg.resample,
  });
}
