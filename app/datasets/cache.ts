// The tensor cache of one dataset version: a folder named by the version id holding
//   pixels.u8     count x H x W x C uint8, HWC, images back to back (the loader normalises on the fly)
//   labels.i32    count int32 little-endian class indices
//   splits.u8     count bytes: 0 train, 1 val, 2 test
//   sources.json  relative source path of every image (file imports), for showing which file a sample is
//   manifest.json the DatasetVersionRecord
// Pixels are streamed to disk while importing, so an import needs memory for a few images, not the dataset.
// Written into a temporary folder and renamed once complete: a crash never leaves a half version under an id.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import type { PixelSource } from '../../engine/data/loader.ts';
import { FormatError } from '../../engine/errors.ts';

import type { DatasetVersionRecord, SplitName } from './types.ts';

export const CACHE_FILES = {
  pixels: 'pixels.u8',
  labels: 'labels.i32',
  splits: 'splits.u8',
  sources: 'sources.json',
  manifest: 'manifest.json',
} as const;

export const SPLIT_CODES: Record<SplitName, number> = { train: 0, val: 1, test: 2 };
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

/** Bump when anything that enters the id changes meaning; old ids then never collide with new ones. */
const VERSION_DOMAIN = 'flops-workbench/dataset-version/v1\n';

export interface VersionIdInput {
  height: number;
  width: number;
  channels: number;
  count: number;
  classes: readonly string[];
  /** The split rule (kind, seed, fractions), as stored in the record. */
  splitSpec: unknown;
  /** sha256 of pixels.u8 (raw digest). */
  pixelsDigest: Uint8Array;
  labels: Uint8Array;
  splits: Uint8Array;
}

/**
 * The version id: sha256 over a domain tag, a canonical JSON header (shape, count, class names, split rule), the
 * digest of the pixels, the labels (int32 LE) and the split assignment. Paths, names and times are left out, so
 * the same images give the same id on every machine.
 */
export function versionId(input: VersionIdInput): string {
  const header = {
    shape: [input.height, input.width, input.channels],
    count: input.count,
    classes: input.classes,
    split: input.splitSpec,
  };
  return createHash('sha256')
    .update(VERSION_DOMAIN)
    .update(JSON.stringify(header))
    .update('\n')
    .update(input.pixelsDigest)
    .update(input.labels)
    .update(input.splits)
    .digest('hex');
}

export function encodeLabels(labels: Int32Array): Uint8Array {
  const out = Buffer.alloc(labels.length * 4);
  for (let i = 0; i < labels.length; i++) out.writeInt32LE(labels[i]!, i * 4);
  return out;
}

export function decodeLabels(bytes: Uint8Array): Int32Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(i * 4);
  return out;
}

/** Streams pixels into a temporary folder under cacheRoot, then commits it under the version id. */
export class CacheWriter {
  readonly #hash: Hash = createHash('sha256');
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #written = 0;

  private constructor(
    readonly cacheRoot: string,
    readonly tmpDir: string,
    readonly imageBytes: number,
    readonly fh: FileHandle,
  ) {}

  static async create(cacheRoot: string, imageBytes: number): Promise<CacheWriter> {
    await mkdir(cacheRoot, { recursive: true });
    const tmpDir = join(
      cacheRoot,
      `.importing-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    );
    await mkdir(tmpDir);
    const fh = await open(join(tmpDir, CACHE_FILES.pixels), 'w');
    return new CacheWriter(cacheRoot, tmpDir, imageBytes, fh);
  }

  get count(): number {
    return this.#written;
  }

  /** Appends one image (imageBytes long). Writes go out in ~4 MB chunks, not one syscall per 784-byte image. */
  async append(pixels: Uint8Array): Promise<void> {
    if (pixels.length !== this.imageBytes) {
      throw new Error(`cache: image of ${pixels.length} bytes, expected ${this.imageBytes}`);
    }
    this.#hash.update(pixels);
    this.#chunks.push(pixels);
    this.#buffered += pixels.length;
    this.#written++;
    if (this.#buffered >= 4 << 20) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return;
    const chunk = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#buffered = 0;
    await this.fh.write(chunk);
  }

  /** Finishes the pixel file and returns its digest; the writer then only accepts commit() or abort(). */
  async finishPixels(): Promise<Uint8Array> {
    await this.#flush();
    await this.fh.close();
    return this.#hash.digest();
  }

  /**
   * Writes the remaining files and moves the folder to cacheRoot/<id>. If that version already exists its data
   * files are identical by construction (same id, same bytes); only its manifest is replaced, since name, report
   * and time belong to this import.
   */
  async commit(
    id: string,
    labels: Uint8Array,
    splits: Uint8Array,
    sources: string[] | undefined,
    record: DatasetVersionRecord,
  ): Promise<void> {
    await writeFile(join(this.tmpDir, CACHE_FILES.labels), labels);
    await writeFile(join(this.tmpDir, CACHE_FILES.splits), splits);
    if (sources) await writeFile(join(this.tmpDir, CACHE_FILES.sources), JSON.stringify(sources));
    const manifest = JSON.stringify(record, null, 2) + '\n';
    await writeFile(join(this.tmpDir, CACHE_FILES.manifest), manifest);
    const target = join(this.cacheRoot, id);
    const exists = await stat(join(target, CACHE_FILES.pixels)).then(
      () => true,
      () => false,
    );
    if (exists) {
      await rename(join(this.tmpDir, CACHE_FILES.manifest), join(target, CACHE_FILES.manifest));
      await rm(this.tmpDir, { recursive: true, force: true });
    } else {
      await rm(target, { recursive: true, force: true });
      await rename(this.tmpDir, target);
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}

export async function readManifest(cachePath: string): Promise<DatasetVersionRecord> {
  const file = join(cachePath, CACHE_FILES.manifest);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DatasetVersionRecord;
  } catch (e) {
    throw new FormatError(file, `cannot read dataset manifest (${(e as Error).message})`, { cause: e });
  }
}

export interface OpenCacheOptions {
  /** Pixel files up to this size are read into memory; larger ones are read per batch. Default 512 MiB. */
  maxInMemoryBytes?: number;
}

/**
 * A dataset version opened for training: a PixelSource for the loader plus labels and splits. Small caches sit in
 * memory; large ones are read with positioned reads per batch, so a dataset need not fit in RAM.
 */
export class DatasetCache implements PixelSource {
  private constructor(
    readonly record: DatasetVersionRecord,
    readonly labels: Int32Array,
    readonly splitCodes: Uint8Array,
    readonly pixels: Uint8Array | undefined,
    readonly fh: FileHandle | undefined,
  ) {}

  get count(): number {
    return this.record.count;
  }
  get height(): number {
    return this.record.height;
  }
  get width(): number {
    return this.record.width;
  }
  get channels(): number {
    return this.record.channels;
  }

  static async open(cachePath: string, options: OpenCacheOptions = {}): Promise<DatasetCache> {
    const record = await readManifest(cachePath);
    const labelBytes = await readFile(join(cachePath, CACHE_FILES.labels));
    const splitCodes = new Uint8Array(await readFile(join(cachePath, CACHE_FILES.splits)));
    const pixelPath = join(cachePath, CACHE_FILES.pixels);
    const expected = record.count * record.height * record.width * record.channels;
    const size = (await stat(pixelPath)).size;
    if (size !== expected || labelBytes.length !== record.count * 4 || splitCodes.length !== record.count) {
      throw new FormatError(cachePath, `cache files do not match the manifest (${record.count} images)`);
    }
    const labels = decodeLabels(labelBytes);
    if (size <= (options.maxInMemoryBytes ?? 512 << 20)) {
      return new DatasetCache(
        record,
        labels,
        splitCodes,
        new Uint8Array(await readFile(pixelPath)),
        undefined,
      );
    }
    return new DatasetCache(record, labels, splitCodes, undefined, await open(pixelPath, 'r'));
  }

  /** Indices of one split, ascending. */
  indices(split: SplitName): Int32Array {
    const code = SPLIT_CODES[split];
    const out: number[] = [];
    for (let i = 0; i < this.splitCodes.length; i++) if (this.splitCodes[i] === code) out.push(i);
    return Int32Array.from(out);
  }

  read(indices: Int32Array, out: Uint8Array): void | Promise<void> {
    const n = this.height * this.width * this.channels;
    if (this.pixels) {
      for (let b = 0; b < indices.length; b++) {
        const i = indices[b]!;
        out.set(this.pixels.subarray(i * n, (i + 1) * n), b * n);
      }
      return;
    }
    const fh = this.fh!;
    return Promise.all(Array.from(indices, (i, b) => fh.read(out, b * n, n, i * n))).then(() => undefined);
  }

  async close(): Promise<void> {
    await this.fh?.close();
  }
}

/** Recomputes the id from the cache files: true when nothing was changed since the import. */
export async function verifyDatasetCache(cachePath: string): Promise<boolean> {
  const record = await readManifest(cachePath);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(join(cachePath, CACHE_FILES.pixels)))
    hash.update(chunk as Buffer);
  const id = versionId({
    height: record.height,
    width: record.width,
    channels: record.channels,
    count: record.count,
    classes: record.classes,
    splitSpec: splitSpecForId(record),
    pixelsDigest: hash.digest(),
    labels: await readFile(join(cachePath, CACHE_FILES.labels)),
    splits: await readFile(join(cachePath, CACHE_FILES.splits)),
  });
  return id === record.id;
}

/** The part of the split record that enters the id (the counts follow from the assignment). */
export function splitSpecForId(record: Pick<DatasetVersionRecord, 'splits'>): unknown {
  const { kind, spec } = record.splits;
  return { kind, seed: spec.seed, val: spec.val, test: spec.test };
}
