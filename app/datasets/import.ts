// Import = scan -> read -> dedup -> decode -> preprocess -> append to the cache, then labels, splits and the
// version id. Files are processed a few at a time (sharp decodes on libuv's threads while pngjs, resizing and
// hashing run on this one) but committed strictly in path order, so the cache, the duplicate choice and therefore
// the id do not depend on which decode finished first. Memory holds at most `concurrency` images in flight.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';

import { readIdx } from '../../engine/data/idx.ts';
import type { SplitSpec } from '../../engine/data/splits.ts';
import { FlopsError, FormatError } from '../../engine/errors.ts';

import { resolveSplits } from './assign-splits.ts';
import { CacheWriter, encodeLabels, SPLIT_NAMES, splitSpecForId, versionId } from './cache.ts';
import { decodeImage, DEFAULT_MAX_PIXELS, type Decoder } from './decode.ts';
import { outputShape, parsePreprocessConfig, preprocessImage, type PreprocessConfig } from './preprocess.ts';
import { scanCsv, scanImageFolder, type Candidate, type ScanResult } from './scan.ts';
import { IMAGE_SUFFIXES } from './sniff.ts';
import type {
  DatasetSource,
  DatasetVersionRecord,
  ImportReport,
  ReportNote,
  SkippedFile,
  SplitName,
} from './types.ts';

export interface ImportOptions {
  /** Where versions are cached (beside the database); each version gets cacheRoot/<id>/. */
  cacheRoot: string;
  /** The model's preprocessing (preprocessFromHf, or DEMO_PREPROCESS for the bundled backbone). */
  preprocess: PreprocessConfig;
  /** Display name; default the folder, CSV or IDX file name. */
  name?: string;
  /**
   * Without predefined splits: the stratified fractions (default val 0.1, test 0.1, seed 0). With split folders,
   * a CSV split column or separate IDX files: what to carve out of train for a split the source lacks (default
   * nothing).
   */
  split?: SplitSpec;
  /** Header pixel limit (width x height); default 40 MP. */
  maxPixels?: number;
  /** Larger files are not read; default 256 MiB. */
  maxFileBytes?: number;
  /** Files in flight; default 8 (keeps libuv's 4 threads and this thread busy on 2 cores). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Clock for createdAt (tests). */
  now?: () => Date;
}

/** No image survived the import; `report` says why for each file. */
export class EmptyDatasetError extends FlopsError {
  constructor(
    readonly source: string,
    readonly report: ImportReport,
  ) {
    const byCode = Object.entries(report.skippedByCode)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([code, n]) => `${n} ${code}`)
      .join(', ');
    super('DATASET_EMPTY', `${source}: no image could be imported (${byCode || 'no files found'})`);
  }
}

interface Item {
  className: string;
  split?: SplitName;
  rel?: string;
}

type Outcome =
  | { kind: 'image'; pixels: Uint8Array; hash?: string; decoder?: Decoder; note?: ReportNote }
  | { kind: 'skip'; skip: SkippedFile; hash?: string }
  | { kind: 'duplicate'; of: number };

interface Pipeline {
  total: number;
  item(i: number): Item;
  process(i: number): Promise<Outcome>;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function errnoMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : (err.code ?? err.message);
}

/** The file pipeline shared by folders and CSV manifests. */
function filePipeline(scan: ScanResult, options: ImportOptions, cfg: PreprocessConfig): Pipeline {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxFileBytes = options.maxFileBytes ?? 256 << 20;
  // content hash -> lowest candidate index holding it. Claimed at read time, so a later copy skips decoding;
  // commit order then decides for copies read out of order.
  const owners = new Map<string, number>();
  const c = (i: number): Candidate => scan.candidates[i]!;
  return {
    total: scan.candidates.length,
    item: (i) => ({ className: c(i).className, rel: c(i).rel, ...(c(i).split ? { split: c(i).split } : {}) }),
    async process(i) {
      const { rel, abs } = c(i);
      const skip = (code: SkippedFile['code'], message: string, hash?: string): Outcome => ({
        kind: 'skip',
        skip: { path: rel, code, message },
        ...(hash ? { hash } : {}),
      });
      let bytes: Buffer;
      try {
        const size = (await stat(abs)).size;
        if (size > maxFileBytes) {
          const mb = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
          return skip(
            'too-many-pixels',
            `file is ${mb(size)}, above the ${mb(maxFileBytes)} limit; not read`,
          );
        }
        bytes = await readFile(abs);
      } catch (e) {
        return skip('unreadable', `cannot read: ${errnoMessage(e)}`);
      }
      if (bytes.length === 0) return skip('empty-file', 'the file is empty (0 bytes)');
      const hash = createHash('sha256').update(bytes).digest('hex');
      const owner = owners.get(hash);
      if (owner !== undefined && owner < i) return { kind: 'duplicate', of: owner };
      owners.set(hash, i);
      const decoded = await decodeImage(bytes, { maxPixels });
      if (!decoded.ok) return skip(decoded.code, decoded.message, hash);
      const ext = extname(rel).toLowerCase();
      const note: ReportNote | undefined =
        IMAGE_SUFFIXES[ext] === decoded.format
          ? undefined
          : {
              path: rel,
              code: 'suffix-mismatch',
              message: `${decoded.format.toUpperCase()} content in a file named '${ext || '(no suffix)'}'; imported by content`,
            };
      let pixels: Uint8Array;
      try {
        pixels = preprocessImage(decoded.image, cfg);
      } catch (e) {
        return skip('corrupt', `cannot preprocess: ${(e as Error).message}`, hash);
      }
      return { kind: 'image', pixels, hash, decoder: decoded.decoder, ...(note ? { note } : {}) };
    },
  };
}

interface Committed {
  labels: string[];
  splits: (SplitName | undefined)[];
  sources: string[];
  skipped: SkippedFile[];
  notes: ReportNote[];
  /** Images kept per decoder, counted at commit: a copy decoded before its original was read is not counted. */
  decoders: Record<string, number>;
}

/** Runs the pipeline with bounded concurrency and commits outcomes in index order. */
async function runPipeline(p: Pipeline, writer: CacheWriter, options: ImportOptions): Promise<Committed> {
  const out: Committed = { labels: [], splits: [], sources: [], skipped: [], notes: [], decoders: {} };
  const window = Math.max(1, options.concurrency ?? 8);
  const inflight = new Map<number, Promise<Outcome>>();
  const ownerHash = new Map<string, number>();
  const failedOwners = new Map<number, SkippedFile>();
  let next = 0;
  for (let i = 0; i < p.total; i++) {
    options.signal?.throwIfAborted();
    while (next < p.total && inflight.size < window) {
      const j = next++;
      const promise = p.process(j);
      promise.catch(() => undefined); // awaited below, in order; this only silences the early rejection
      inflight.set(j, promise);
    }
    const outcome = await inflight.get(i)!;
    inflight.delete(i);
    const item = p.item(i);
    const rel = item.rel ?? String(i);
    if (
      outcome.kind === 'duplicate' ||
      (outcome.hash !== undefined && (ownerHash.get(outcome.hash) ?? i) !== i)
    ) {
      const of = outcome.kind === 'duplicate' ? outcome.of : ownerHash.get(outcome.hash!)!;
      const failed = failedOwners.get(of);
      out.skipped.push(
        failed
          ? { path: rel, code: failed.code, message: `${failed.message} (same content as ${p.item(of).rel})` }
          : {
              path: rel,
              code: 'duplicate',
              message: `same content as ${p.item(of).rel}; the first in path order is kept`,
            },
      );
    } else {
      if (outcome.hash !== undefined) ownerHash.set(outcome.hash, i);
      if (outcome.kind === 'skip') {
        out.skipped.push(outcome.skip);
        failedOwners.set(i, outcome.skip);
      } else {
        await writer.append(outcome.pixels);
        out.labels.push(item.className);
        out.splits.push(item.split);
        out.sources.push(rel);
        if (outcome.note) out.notes.push(outcome.note);
        if (outcome.decoder) out.decoders[outcome.decoder] = (out.decoders[outcome.decoder] ?? 0) + 1;
      }
    }
    options.onProgress?.({ done: i + 1, total: p.total });
  }
  return out;
}

async function runImport(
  source: DatasetSource,
  defaultName: string,
  scanned: { count: number; skipped: SkippedFile[]; classDirs: { rel: string; className: string }[] },
  makePipeline: (cfg: PreprocessConfig) => Pipeline,
  options: ImportOptions,
  keepSources: boolean,
  /** Class order by name; default UTF-16 code-unit order of the names. */
  classRank?: (name: string) => number,
): Promise<DatasetVersionRecord> {
  const started = performance.now();
  const cfg = parsePreprocessConfig(options.preprocess);
  const shape = outputShape(cfg);
  const pipeline = makePipeline(cfg);
  const writer = await CacheWriter.create(options.cacheRoot, shape.height * shape.width * shape.channels);
  try {
    const done = await runPipeline(pipeline, writer, options);
    const pixelsDigest = await writer.finishPixels();

    // Classes: those with at least one imported image, in code-unit order (IDX: label order); label = index.
    const classes = [...new Set(done.labels)].sort((a, b) =>
      classRank ? classRank(a) - classRank(b) : byCodeUnits(a, b),
    );
    const classIndex = new Map(classes.map((name, i) => [name, i]));
    const labels = Int32Array.from(done.labels, (name) => classIndex.get(name)!);
    // Class folders are the first one or two segments of a path (root/<class> or root/<split>/<class>).
    const usedDirs = new Set<string>();
    for (const rel of done.sources) {
      const parts = rel.split('/');
      usedDirs.add(parts[0]!);
      if (parts.length > 2) usedDirs.add(`${parts[0]}/${parts[1]}`);
    }
    const notes = [...done.notes];
    for (const dir of scanned.classDirs) {
      if (!usedDirs.has(dir.rel)) {
        notes.push({
          path: dir.rel,
          code: 'empty-class',
          message: classIndex.has(dir.className)
            ? `class folder '${dir.rel}' has no importable image`
            : `class folder '${dir.rel}' has no importable image; class '${dir.className}' left out`,
        });
      }
    }
    const skipped = [...scanned.skipped, ...done.skipped].sort((a, b) => byCodeUnits(a.path, b.path));
    const skippedByCode: ImportReport['skippedByCode'] = {};
    for (const s of skipped) skippedByCode[s.code] = (skippedByCode[s.code] ?? 0) + 1;
    const report: ImportReport = {
      scanned: scanned.count,
      imported: labels.length,
      skipped,
      notes: notes.sort((a, b) => byCodeUnits(a.path, b.path)),
      skippedByCode,
      decoders: done.decoders,
      elapsedMs: Math.round(performance.now() - started),
    };
    if (labels.length === 0) throw new EmptyDatasetError(source.path, report);

    const { codes, splits } = resolveSplits(labels, done.splits, classes.length, options.split);
    const labelBytes = encodeLabels(labels);
    const id = versionId({
      ...shape,
      count: labels.length,
      classes,
      splitSpec: splitSpecForId({ splits }),
      pixelsDigest,
      labels: labelBytes,
      splits: codes,
    });
    const record: DatasetVersionRecord = {
      id,
      name: options.name ?? defaultName,
      source,
      classes,
      count: labels.length,
      ...shape,
      cachePath: resolve(options.cacheRoot, id),
      splits,
      preprocess: cfg,
      report,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
    };
    await writer.commit(id, labelBytes, codes, keepSources ? done.sources : undefined, record);
    return record;
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** Imports an ImageFolder tree (root/<class>/** or root/<train|val|test>/<class>/**). */
export async function importImageFolder(
  root: string,
  options: ImportOptions & { layout?: 'auto' | 'classes' | 'splits' },
): Promise<DatasetVersionRecord> {
  const scan = await scanImageFolder(root, options.layout ?? 'auto');
  return runImport(
    { kind: 'folder', path: resolve(root) },
    basename(resolve(root)),
    { count: scan.scanned, skipped: scan.skipped, classDirs: scan.classDirs },
    (cfg) => filePipeline(scan, options, cfg),
    options,
    true,
  );
}

/** Imports the files a CSV manifest (path,label[,split]) lists; relative paths resolve against `root`. */
export async function importCsvManifest(
  csvPath: string,
  options: ImportOptions & { root?: string },
): Promise<DatasetVersionRecord> {
  const scan = await scanCsv(csvPath, options.root);
  return runImport(
    { kind: 'csv', path: resolve(csvPath) },
    basename(csvPath, extname(csvPath)),
    { count: scan.scanned, skipped: scan.skipped, classDirs: [] },
    (cfg) => filePipeline(scan, options, cfg),
    options,
    true,
  );
}

export interface IdxPair {
  images: string;
  labels: string;
}

/**
 * Imports MNIST-family IDX files (gzipped or not). Each given pair is a predefined split. Class names default to
 * the label numbers; pass `classNames` (indexed by label value) for readable ones.
 */
export async function importIdx(
  files: Partial<Record<SplitName, IdxPair>> & { train: IdxPair },
  options: ImportOptions & { classNames?: readonly string[] },
): Promise<DatasetVersionRecord> {
  const parts: {
    split: SplitName;
    pixels: Uint8Array;
    labels: Uint8Array;
    h: number;
    w: number;
    n: number;
  }[] = [];
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  for (const split of SPLIT_NAMES) {
    const pair = files[split];
    if (!pair) continue;
    const [images, labels] = await Promise.all([readIdx(pair.images), readIdx(pair.labels)]);
    if (images.dims.length !== 3)
      throw new FormatError(pair.images, `expected 3 dims, got ${images.dims.length}`);
    if (labels.dims.length !== 1)
      throw new FormatError(pair.labels, `expected 1 dim, got ${labels.dims.length}`);
    const [n, h, w] = images.dims as [number, number, number];
    if (labels.dims[0] !== n) throw new FormatError(pair.labels, `${labels.dims[0]} labels for ${n} images`);
    if (h * w > maxPixels) throw new FormatError(pair.images, `${h}x${w} images exceed the pixel limit`);
    parts.push({ split, pixels: images.data, labels: labels.data, h, w, n });
  }
  const names = options.classNames;
  const locate = (i: number): { part: (typeof parts)[number]; row: number } => {
    for (const part of parts) {
      if (i < part.n) return { part, row: i };
      i -= part.n;
    }
    throw new Error('index out of range');
  };
  const total = parts.reduce((a, p) => a + p.n, 0);
  const className = (label: number): string => {
    if (!names) return String(label);
    const name = names[label];
    if (name === undefined)
      throw new FormatError(files.train.labels, `label ${label} has no entry in classNames`);
    return name.normalize('NFC');
  };
  // IDX classes keep their label order (Fashion-MNIST's 0 = T-shirt/top, ...), not alphabetical order.
  const labelOf = new Map<string, number>();
  for (const part of parts)
    for (const l of part.labels) if (!labelOf.has(className(l))) labelOf.set(className(l), l);
  const allFiles = SPLIT_NAMES.flatMap((s) =>
    files[s] ? [resolve(files[s].images), resolve(files[s].labels)] : [],
  );
  return runImport(
    { kind: 'idx', path: resolve(files.train.images), files: allFiles },
    basename(files.train.images).replace(/[-.]idx3-ubyte(\.gz)?$|\.gz$/, ''),
    { count: total, skipped: [], classDirs: [] },
    (cfg) => ({
      total,
      item(i) {
        const { part, row } = locate(i);
        return { className: className(part.labels[row]!), split: part.split };
      },
      async process(i) {
        const { part, row } = locate(i);
        const size = part.h * part.w;
        const image = {
          data: part.pixels.subarray(row * size, (row + 1) * size),
          width: part.w,
          height: part.h,
        };
        return { kind: 'image', pixels: preprocessImage({ ...image, channels: 1 }, cfg) };
      },
    }),
    options,
    false,
    (name) => labelOf.get(name) ?? 0,
  );
}
