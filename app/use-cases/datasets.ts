// Dataset use cases: import a folder, a CSV manifest or IDX files into the workspace (with progress events), list
// the stored versions, show one, and re-split one into a new version. The preprocessing is the chosen model's (so cached images match its input), or
// the bundled backbone's when no model is named.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import { PNG } from 'pngjs';
import { z } from 'zod';

import { FlopsError } from '../../engine/errors.ts';
import type { AppContext } from '../context.ts';
import { DatasetCache, SPLIT_CODES, SPLIT_NAMES } from '../datasets/cache.ts';
import type { IdxPair } from '../datasets/import.ts';
import {
  DEMO_PREPROCESS,
  parsePreprocessConfig,
  preprocessFromHf,
  type PreprocessConfig,
} from '../datasets/preprocess.ts';
import type { ImportReport, SplitName } from '../datasets/types.ts';
import { getDatasetVersion, listDatasetVersions, type DatasetVersion } from '../db/datasets.ts';
import { getModel } from '../db/models.ts';
import { NotFoundError, parseArgs } from './validate.ts';

const splitSchema = z.object({
  val: z.number().min(0).lt(1).default(0.1),
  test: z.number().min(0).lt(1).default(0.1),
  seed: z.number().int().nonnegative().default(0),
});

const importArgs = z.object({
  /** A folder (ImageFolder layout), a CSV manifest (path,label[,split]) or an IDX images file. */
  path: z.string().min(1),
  name: z.string().trim().min(1).max(200).optional(),
  /** Default: 'csv' for a .csv file, 'idx' for *-idx3-ubyte[.gz], else 'folder'. */
  format: z.enum(['folder', 'csv', 'idx']).optional(),
  /** Take the preprocessing from this model (its preprocessor_config.json). */
  modelId: z.number().int().positive().optional(),
  /** Explicit preprocessing (wins over modelId). */
  preprocess: z.unknown().optional(),
  /** Stratified fractions (sources without splits), or what to carve out of train for a split the source lacks. */
  split: splitSchema.optional(),
  /** IDX: the labels file of `path` (default: the -images- name with -labels-/idx1), and an optional test pair. */
  labels: z.string().min(1).optional(),
  testImages: z.string().min(1).optional(),
  testLabels: z.string().min(1).optional(),
  /** IDX: class names indexed by label value. */
  classNames: z.array(z.string().min(1)).optional(),
  /** CSV: the folder relative paths resolve against (default: the CSV's folder). */
  root: z.string().min(1).optional(),
  /** Correlates 'dataset/import-progress' events with this call; generated when absent. */
  importId: z.string().min(1).max(100).optional(),
});

export type ImportDatasetArgs = z.input<typeof importArgs>;

/** The import report without the per-file lists (those can be long; `dataset/get` returns them). */
export interface ImportSummary {
  scanned: number;
  imported: number;
  skipped: number;
  skippedByCode: ImportReport['skippedByCode'];
  notes: number;
  elapsedMs: number;
}

export interface ImportDatasetResult {
  importId: string;
  dataset: DatasetVersion;
  summary: ImportSummary;
}

function guessFormat(path: string): 'folder' | 'csv' | 'idx' {
  if (extname(path).toLowerCase() === '.csv') return 'csv';
  if (/idx\d-ubyte(\.gz)?$/.test(path)) return 'idx';
  return 'folder';
}

/** MNIST naming: train-images-idx3-ubyte.gz ↔ train-labels-idx1-ubyte.gz. */
export function idxLabelsFor(images: string): string {
  const name = basename(images).replace('images', 'labels').replace('idx3', 'idx1');
  return join(dirname(images), name);
}

async function modelPreprocess(ctx: AppContext, modelId: number): Promise<PreprocessConfig> {
  const model = getModel(ctx.workspace.db, modelId);
  if (!model) throw new NotFoundError('model', modelId);
  const config = model.config as { numChannels?: number };
  const channels = config.numChannels === 1 ? 1 : 3;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(model.path, 'preprocessor_config.json'), 'utf8'));
  } catch {
    throw new FlopsError(
      'MODEL_PREPROCESS',
      `model ${modelId} (${model.name}) has no readable preprocessor_config.json; pass an explicit preprocess`,
    );
  }
  return preprocessFromHf(json, { channels });
}

export async function importDataset(ctx: AppContext, args: ImportDatasetArgs): Promise<ImportDatasetResult> {
  const a = parseArgs('dataset/import', importArgs, args);
  const importId = a.importId ?? randomUUID();
  const preprocess =
    a.preprocess !== undefined
      ? parsePreprocessConfig(a.preprocess)
      : a.modelId !== undefined
        ? await modelPreprocess(ctx, a.modelId)
        : DEMO_PREPROCESS;
  const name = a.name;
  const onProgress = (p: { done: number; total: number }): void =>
    ctx.events.emit('dataset/import-progress', { importId, ...p, ...(name ? { name } : {}) });
  const common = {
    cacheRoot: ctx.workspace.paths.datasets,
    preprocess,
    onProgress,
    ...(name ? { name } : {}),
    ...(a.split ? { split: a.split } : {}),
  };
  const format = a.format ?? guessFormat(a.path);
  // Loaded on use: the importer pulls in sharp's native decoders, which every other command can do without.
  const { importCsvManifest, importIdx, importImageFolder } = await import('../datasets/import.ts');
  const { recordDatasetVersion } = await import('../datasets/use-cases.ts');
  let record;
  if (format === 'csv') {
    record = await importCsvManifest(a.path, { ...common, ...(a.root ? { root: a.root } : {}) });
  } else if (format === 'idx') {
    const train: IdxPair = { images: a.path, labels: a.labels ?? idxLabelsFor(a.path) };
    const test: IdxPair | undefined = a.testImages
      ? { images: a.testImages, labels: a.testLabels ?? idxLabelsFor(a.testImages) }
      : undefined;
    record = await importIdx(
      { train, ...(test ? { test } : {}) },
      { ...common, ...(a.classNames ? { classNames: a.classNames } : {}) },
    );
  } else {
    record = await importImageFolder(a.path, common);
  }
  const dataset = recordDatasetVersion(ctx.workspace, record);
  const r = record.report;
  return {
    importId,
    dataset,
    summary: {
      scanned: r.scanned,
      imported: r.imported,
      skipped: r.skipped.length,
      skippedByCode: r.skippedByCode,
      notes: r.notes.length,
      elapsedMs: r.elapsedMs,
    },
  };
}

const listArgs = z.object({ name: z.string().min(1).optional() });

export async function listDatasets(
  ctx: AppContext,
  args: z.input<typeof listArgs> = {},
): Promise<DatasetVersion[]> {
  const a = parseArgs('dataset/list', listArgs, args);
  return listDatasetVersions(ctx.workspace.db, a.name);
}

const getArgs = z.object({
  /** A version id, or a unique prefix of one (as the CLI prints them), or a dataset name (its newest version). */
  id: z.string().min(1),
});

/** Finds a version by id, unique id prefix (>= 6 characters) or dataset name (newest version). */
export function resolveDatasetVersion(ctx: AppContext, ref: string): DatasetVersion {
  const db = ctx.workspace.db;
  const exact = getDatasetVersion(db, ref);
  if (exact) return exact;
  const all = listDatasetVersions(db);
  const byName = all.filter((v) => v.name === ref);
  if (byName[0]) return byName[0];
  const byPrefix = ref.length >= 6 ? all.filter((v) => v.id.startsWith(ref.toLowerCase())) : [];
  if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0];
  if (byPrefix.length > 1) throw new FlopsError('AMBIGUOUS', `dataset version prefix ${ref} is ambiguous`);
  throw new NotFoundError('dataset', ref);
}

export async function getDataset(ctx: AppContext, args: z.input<typeof getArgs>): Promise<DatasetVersion> {
  const a = parseArgs('dataset/get', getArgs, args);
  return resolveDatasetVersion(ctx, a.id);
}

const splitArgs = z
  .object({
    /** The version to re-split: an id, a unique prefix or a dataset name, as for dataset/get. */
    id: z.string().min(1),
    /** Fraction of every class that goes to validation, in [0, 1). */
    val: z.number().min(0).lt(1).default(0.1),
    /** Fraction of every class that goes to test, in [0, 1); must be left out with keepTest. */
    test: z.number().min(0).lt(1).optional(),
    seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
    /** Keep the version's test images as they are and re-draw val from the others (e.g. an official test set). */
    keepTest: z.boolean().default(false),
    /** Store the new version under this dataset name (default: the version's own). */
    name: z.string().trim().min(1).max(200).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.keepTest && a.test !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['test'],
        message: 'keepTest keeps the test split; leave test out',
      });
    }
    const test = a.test ?? (a.keepTest ? 0 : 0.1);
    if (a.val + test >= 1) {
      ctx.addIssue({
        code: 'custom',
        path: [a.test === undefined ? 'val' : 'test'],
        message: `val + test must be below 1, got ${a.val} + ${test}`,
      });
    }
  });
export type SplitDatasetArgs = z.input<typeof splitArgs>;

/**
 * A new version with a fresh stratified train/val/test assignment of an existing version's images. The cache is
 * shared (nothing is decoded), the id is the content hash of the new assignment, and the same request twice gives
 * the same version.
 */
export async function splitDataset(ctx: AppContext, args: SplitDatasetArgs): Promise<DatasetVersion> {
  const a = parseArgs('dataset/split', splitArgs, args);
  const parent = resolveDatasetVersion(ctx, a.id);
  if (!parent.cachePath) throw new FlopsError('DATASET_MISSING', `dataset version ${parent.id} has no cache`);
  // A cache folder deleted by hand: say which version and where, as a run on it does (rather than the manifest's
  // bare ENOENT as a format error).
  if (!existsSync(parent.cachePath)) {
    throw new FlopsError(
      'DATASET_MISSING',
      `dataset version ${parent.id} (${parent.name}): its cache is gone from ${parent.cachePath}`,
    );
  }
  const { resplitCache } = await import('../datasets/resplit.ts');
  const { recordDatasetVersion } = await import('../datasets/use-cases.ts');
  const record = await resplitCache(parent.cachePath, ctx.workspace.paths.datasets, {
    split: { seed: a.seed, val: a.val, test: a.test ?? (a.keepTest ? 0 : 0.1) },
    keepTest: a.keepTest,
    name: a.name ?? parent.name,
  });
  return recordDatasetVersion(ctx.workspace, record);
}

const samplesArgs = z.object({
  /** A version id, unique prefix or dataset name, as for dataset/get. */
  id: z.string().min(1),
  split: z.enum(['train', 'val', 'test']).optional(),
  offset: z.number().int().nonnegative().default(0),
  limit: z.number().int().positive().max(200).default(48),
  classIndex: z.number().int().nonnegative().optional(),
});
export type DatasetSamplesArgs = z.input<typeof samplesArgs>;

export interface DatasetSample {
  /** The sample's index in the version (cache order). */
  index: number;
  label: number;
  className: string;
  split: SplitName;
  /** The cached pixels as a PNG data URL (grey or RGB, the cache's size). */
  png: string;
}

export interface DatasetSamples {
  /** Samples matching split and classIndex, before paging. */
  total: number;
  offset: number;
  samples: DatasetSample[];
}

/** A page of thumbnails from the uint8 cache, optionally of one split and one class. */
export async function datasetSamples(ctx: AppContext, args: DatasetSamplesArgs): Promise<DatasetSamples> {
  const a = parseArgs('dataset/samples', samplesArgs, args);
  const version = resolveDatasetVersion(ctx, a.id);
  if (!version.cachePath)
    throw new FlopsError('DATASET_MISSING', `dataset version ${version.id} has no cache`);
  const cache = await DatasetCache.open(version.cachePath);
  try {
    const matching: number[] = [];
    const code = a.split === undefined ? undefined : SPLIT_CODES[a.split];
    for (let i = 0; i < cache.count; i++) {
      if (code !== undefined && cache.splitCodes[i] !== code) continue;
      if (a.classIndex !== undefined && cache.labels[i] !== a.classIndex) continue;
      matching.push(i);
    }
    const page = Int32Array.from(matching.slice(a.offset, a.offset + a.limit));
    const { height, width, channels } = cache;
    const n = height * width * channels;
    const pixels = new Uint8Array(page.length * n);
    await cache.read(page, pixels);
    const samples = Array.from(page, (index, b) => {
      const label = cache.labels[index]!;
      return {
        index,
        label,
        className: cache.record.classes[label] ?? String(label),
        split: SPLIT_NAMES[cache.splitCodes[index]!] ?? 'train',
        png: pngDataUrl(pixels.subarray(b * n, (b + 1) * n), width, height, channels),
      };
    });
    return { total: matching.length, offset: a.offset, samples };
  } finally {
    await cache.close();
  }
}

/** HWC uint8 (1 or 3 channels) as an 8-bit greyscale or RGB PNG data URL. */
export function pngDataUrl(hwc: Uint8Array, width: number, height: number, channels: number): string {
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const png = PNG.sync.write(
    { width, height, data: Buffer.from(hwc.buffer, hwc.byteOffset, hwc.byteLength) } as PNG,
    { colorType, inputColorType: colorType, inputHasAlpha: channels === 4, bitDepth: 8 },
  );
  return `data:image/png;base64,${png.toString('base64')}`;
}
