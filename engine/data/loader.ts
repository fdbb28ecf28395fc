// Seeded batch loader over a uint8 image cache. The cache holds preprocessed pixels (already resized, HWC, 0..255);
// rescale and normalise happen here, on the fly, through a 256-entry lookup table per channel, so one cache serves
// every normalisation a model may ask for and costs a quarter of float32 on disk.
//
// Determinism: the epoch order is a Fisher–Yates shuffle seeded by deriveSeed(seed, SHUFFLE, epoch), and the
// augmentation of a sample by deriveSeed(seed, AUGMENT, epoch, sampleId). A batch is therefore a pure function of
// (seed, epoch, batch index), whatever order batches are requested in and whether prefetch is on.
//
// Prefetch: while the caller works on batch i, batch i+1 is assembled. The training loop already runs in its own
// worker (docs/engine-design.md), so "prefetch in a worker" is this overlap inside that worker: a file-backed
// source reads through libuv's thread pool, and the uint8 -> float conversion (a few ms even at 224x224x3x32) runs
// while the loop awaits its forward passes. A second worker would add a copy of every batch and buy nothing.
import { ConfigError } from '../errors.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { SEED_TAGS, shuffleInPlace, uniformInt } from './splits.ts';

/** Where the loader reads preprocessed pixels from: an in-memory array or a file-backed cache. */
export interface PixelSource {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Class index of every item. */
  readonly labels: Int32Array;
  /** Copies the HWC uint8 pixels of items `indices`, one image after another, into `out`. */
  read(indices: Int32Array, out: Uint8Array): void | Promise<void>;
}

/** A PixelSource over pixels already in memory (small datasets, tests). */
export class MemoryPixelSource implements PixelSource {
  readonly count: number;
  readonly #imageBytes: number;

  constructor(
    readonly pixels: Uint8Array,
    readonly labels: Int32Array,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
  ) {
    this.#imageBytes = height * width * channels;
    this.count = labels.length;
    if (pixels.length !== this.count * this.#imageBytes) {
      throw new ConfigError(
        'pixels',
        `${pixels.length} bytes for ${this.count} images of ${this.#imageBytes}`,
      );
    }
  }

  read(indices: Int32Array, out: Uint8Array): void {
    const n = this.#imageBytes;
    for (let b = 0; b < indices.length; b++) {
      const i = indices[b]!;
      out.set(this.pixels.subarray(i * n, (i + 1) * n), b * n);
    }
  }
}

/** value -> (value * rescale - mean[c]) / std[c]; mean/std of length 1 apply to every channel. */
export interface Normalization {
  rescale: number;
  mean: readonly number[];
  std: readonly number[];
}

export interface Augmentation {
  /** Pad by `padding` pixels of value 0, then crop a random window of the original size (CIFAR-style). */
  randomCrop?: { padding: number };
  /** Mirror left-right with probability 1/2. */
  hflip?: boolean;
}

export interface LoaderOptions {
  batchSize: number;
  seed: number;
  /** Items to iterate (a split, a k-shot subset, a rebalanced list with repeats); default all. */
  indices?: ArrayLike<number>;
  /** Default true. Off: the order of `indices` as given, every epoch. */
  shuffle?: boolean;
  /** Drop a final partial batch, for losses that need a fixed B. Default false. */
  dropLast?: boolean;
  /** Default: rescale 1/255, mean 0, std 1. */
  normalization?: Normalization;
  /** 'nchw' (what ONNX vision models take, the default) or 'nhwc'. */
  layout?: 'nchw' | 'nhwc';
  /** Off by default: augmentation changes the objective, so a run has to ask for it. */
  augment?: Augmentation;
  /** Assemble batch i+1 while batch i is in use. Default true. */
  prefetch?: boolean;
}

export interface Batch {
  epoch: number;
  index: number;
  /** Rows in this batch (batchSize, or fewer for a final partial batch). */
  size: number;
  /** [size, C, H, W] or [size, H, W, C] */
  shape: [number, number, number, number];
  pixels: Float32Array;
  labels: Int32Array;
  /** Dataset indices of the rows (per-sample state such as Neyman variances is keyed on them). */
  sampleIds: Int32Array;
}

const DEFAULT_NORMALIZATION: Normalization = { rescale: 1 / 255, mean: [0], std: [1] };

/** One Float32Array of 256 entries per channel: the whole of rescale + normalise for a uint8 input. */
export function normalizationTable(norm: Normalization, channels: number): Float32Array {
  const pick = (arr: readonly number[], name: string, c: number): number => {
    if (arr.length !== 1 && arr.length !== channels) {
      throw new ConfigError(`normalization.${name}`, `has ${arr.length} values for ${channels} channels`);
    }
    return arr.length === 1 ? arr[0]! : arr[c]!;
  };
  if (!Number.isFinite(norm.rescale)) throw new ConfigError('normalization.rescale', 'must be finite');
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    const mean = pick(norm.mean, 'mean', c);
    const std = pick(norm.std, 'std', c);
    if (!(std > 0) || !Number.isFinite(mean)) {
      throw new ConfigError('normalization.std', `channel ${c}: std must be > 0 and mean finite`);
    }
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * norm.rescale - mean) / std;
  }
  return lut;
}

export class BatchLoader {
  readonly #source: PixelSource;
  readonly #indices: Int32Array;
  readonly #batchSize: number;
  readonly #seed: number;
  readonly #shuffle: boolean;
  readonly #dropLast: boolean;
  readonly #layout: 'nchw' | 'nhwc';
  readonly #augment: Augmentation | undefined;
  readonly #prefetch: boolean;
  readonly #lut: Float32Array;
  #orderCache: { epoch: number; order: Int32Array } | undefined;
  #pending: { epoch: number; index: number; promise: Promise<Batch> } | undefined;
  /** Batches assembled so far (prefetched ones included); for tests and benches. */
  assembled = 0;

  constructor(source: PixelSource, options: LoaderOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new ConfigError('loader.batchSize', `must be a positive integer, got ${options.batchSize}`);
    }
    if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
      throw new ConfigError('loader.seed', 'must be a non-negative integer');
    }
    const pad = options.augment?.randomCrop?.padding;
    if (pad !== undefined && (!Number.isInteger(pad) || pad < 0)) {
      throw new ConfigError(
        'loader.augment.randomCrop.padding',
        `must be a non-negative integer, got ${pad}`,
      );
    }
    this.#source = source;
    this.#indices = options.indices
      ? Int32Array.from(options.indices)
      : Int32Array.from({ length: source.count }, (_, i) => i);
    for (const i of this.#indices) {
      if (i < 0 || i >= source.count)
        throw new ConfigError('loader.indices', `index ${i} outside the dataset`);
    }
    this.#batchSize = options.batchSize;
    this.#seed = options.seed;
    this.#shuffle = options.shuffle ?? true;
    this.#dropLast = options.dropLast ?? false;
    this.#layout = options.layout ?? 'nchw';
    this.#augment = options.augment;
    this.#prefetch = options.prefetch ?? true;
    this.#lut = normalizationTable(options.normalization ?? DEFAULT_NORMALIZATION, source.channels);
  }

  get size(): number {
    return this.#indices.length;
  }

  get batchesPerEpoch(): number {
    const n = this.#indices.length / this.#batchSize;
    return this.#dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The epoch's sample order (dataset indices). */
  order(epoch: number): Int32Array {
    if (this.#orderCache?.epoch === epoch) return this.#orderCache.order;
    const order = this.#indices.slice();
    if (this.#shuffle) shuffleInPlace(order, new Rng(deriveSeed(this.#seed, SEED_TAGS.shuffle, epoch)));
    this.#orderCache = { epoch, order };
    return order;
  }

  /** Batch `index` of `epoch`; starts assembling the next one when prefetch is on. */
  async batch(epoch: number, index: number): Promise<Batch> {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new ConfigError('loader.batch', `index ${index} outside 0..${this.batchesPerEpoch - 1}`);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    const promise =
      pending && pending.epoch === epoch && pending.index === index
        ? pending.promise
        : this.#assemble(epoch, index);
    if (this.#prefetch) {
      const next =
        index + 1 < this.batchesPerEpoch ? { epoch, index: index + 1 } : { epoch: epoch + 1, index: 0 };
      if (this.batchesPerEpoch > 0) {
        // Deferred with setImmediate so the caller gets this batch first; a prefetched failure is reported
        // when (and only if) that batch is asked for, never as an unhandled rejection.
        const p = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
          this.#assemble(next.epoch, next.index),
        );
        p.catch(() => undefined);
        this.#pending = { ...next, promise: p };
      }
    }
    return promise;
  }

  /** All batches of one epoch, in order. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    for (let i = 0; i < this.batchesPerEpoch; i++) yield await this.batch(epoch, i);
  }

  async #assemble(epoch: number, index: number): Promise<Batch> {
    const { height: h, width: w, channels: c } = this.#source;
    const order = this.order(epoch);
    const start = index * this.#batchSize;
    const ids = order.slice(start, Math.min(start + this.#batchSize, order.length));
    const n = ids.length;
    const raw = new Uint8Array(n * h * w * c);
    await this.#source.read(ids, raw);
    const labels = new Int32Array(n);
    for (let b = 0; b < n; b++) labels[b] = this.#source.labels[ids[b]!]!;
    const pixels = new Float32Array(n * h * w * c);
    const nchw = this.#layout === 'nchw';
    for (let b = 0; b < n; b++) {
      const src = raw.subarray(b * h * w * c, (b + 1) * h * w * c);
      const dst = pixels.subarray(b * h * w * c, (b + 1) * h * w * c);
      if (this.#augment && (this.#augment.randomCrop || this.#augment.hflip)) {
        this.#augmentInto(src, dst, nchw, new Rng(deriveSeed(this.#seed, SEED_TAGS.augment, epoch, ids[b]!)));
      } else if (nchw) {
        this.#toNchw(src, dst);
      } else {
        this.#toNhwc(src, dst);
      }
    }
    this.assembled++;
    return {
      epoch,
      index,
      size: n,
      shape: nchw ? [n, c, h, w] : [n, h, w, c],
      pixels,
      labels,
      sampleIds: ids,
    };
  }

  #toNchw(src: Uint8Array, dst: Float32Array): void {
    const { height: h, width: w, channels: c } = this.#source;
    const lut = this.#lut;
    const hw = h * w;
    if (c === 3) {
      // One pass over the interleaved source feeding three planes: ~2x faster than three strided passes.
      const l0 = lut.subarray(0, 256);
      const l1 = lut.subarray(256, 512);
      const l2 = lut.subarray(512, 768);
      for (let p = 0, s = 0; p < hw; p++, s += 3) {
        dst[p] = l0[src[s]!]!;
        dst[hw + p] = l1[src[s + 1]!]!;
        dst[2 * hw + p] = l2[src[s + 2]!]!;
      }
      return;
    }
    for (let ch = 0; ch < c; ch++) {
      const base = ch * 256;
      const plane = ch * hw;
      for (let p = 0, s = ch; p < hw; p++, s += c) dst[plane + p] = lut[base + src[s]!]!;
    }
  }

  #toNhwc(src: Uint8Array, dst: Float32Array): void {
    const c = this.#source.channels;
    const lut = this.#lut;
    for (let i = 0; i < src.length; i++) dst[i] = lut[(i % c) * 256 + src[i]!]!;
  }

  /**
   * Random crop of the zero-padded image, then the optional mirror, written straight into the output layout.
   * Padding pixels take the value of a 0 input (black before normalisation), as torchvision's RandomCrop does.
   */
  #augmentInto(src: Uint8Array, dst: Float32Array, nchw: boolean, rng: Rng): void {
    const { height: h, width: w, channels: c } = this.#source;
    const pad = this.#augment?.randomCrop?.padding ?? 0;
    const dy = this.#augment?.randomCrop ? uniformInt(rng, 2 * pad + 1) - pad : 0;
    const dx = this.#augment?.randomCrop ? uniformInt(rng, 2 * pad + 1) - pad : 0;
    const flip = this.#augment?.hflip ? rng.nextFloat() < 0.5 : false;
    const lut = this.#lut;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        for (let ch = 0; ch < c; ch++) {
          const v = inside ? src[(sy * w + sx) * c + ch]! : 0;
          dst[nchw ? ch * h * w + y * w + x : (y * w + x) * c + ch] = lut[ch * 256 + v]!;
        }
      }
    }
  }
}
