// A new dataset version from an existing one with another train/val/test assignment: the same images, labels and
// classes, new splits.u8, and its own content-hashed id. The pixels are never decoded again: pixels.u8 (and
// sources.json) are hard-linked from the parent's cache, so the new version costs one split file and a manifest on
// disk, and it stays whole if the parent is deleted. Where links are impossible (a file system without them), the
// files are copied instead.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import type { SplitSpec } from '../../engine/data/splits.ts';
import { FormatError } from '../../engine/errors.ts';

import { resolveSplits } from './assign-splits.ts';
import { CACHE_FILES, decodeLabels, readManifest, SPLIT_CODES, splitSpecForId, versionId } from './cache.ts';
import type { DatasetVersionRecord, SplitName } from './types.ts';

export interface ResplitRequest {
  /** Stratified fractions of every class (of the non-test images when keepTest) and the seed. */
  split: SplitSpec;
  /** Keep the parent's test images as the test split and re-draw only val from the rest (test must be 0). */
  keepTest: boolean;
  /** Name of the new version's dataset (default: the parent's). */
  name?: string;
  /** Clock for createdAt (tests). */
  now?: () => Date;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function sha256File(path: string): Promise<Uint8Array> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}

/** Hard link, or a copy where the file system refuses links (FAT, some network shares). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Makes (or finds) the version of `parentPath`'s images under `request`'s split, in `cacheRoot/<id>`. The same
 * parent and request always give the same id, so asking twice returns the version made the first time.
 */
export async function resplitCache(
  parentPath: string,
  cacheRoot: string,
  request: ResplitRequest,
): Promise<DatasetVersionRecord> {
  const started = performance.now();
  const parent = await readManifest(parentPath);
  const labelBytes = await readFile(join(parentPath, CACHE_FILES.labels));
  const parentCodes = new Uint8Array(await readFile(join(parentPath, CACHE_FILES.splits)));
  const pixelsPath = join(parentPath, CACHE_FILES.pixels);
  // The parent's files must be whole before a version is made from them: a truncated pixels file would otherwise be
  // hashed and linked into a new version that verifies against its own id (DatasetCache.open checks the same).
  const { count, height, width, channels } = parent;
  const pixelBytes = count * height * width * channels;
  const pixelSize = (await stat(pixelsPath)).size;
  if (pixelSize !== pixelBytes) {
    throw new FormatError(
      pixelsPath,
      `${pixelSize} bytes; the manifest's ${count} images of ${width}x${height}x${channels} need ${pixelBytes}`,
    );
  }
  for (const [file, size, need] of [
    [CACHE_FILES.labels, labelBytes.length, count * 4],
    [CACHE_FILES.splits, parentCodes.length, count],
  ] as const) {
    if (size !== need) {
      throw new FormatError(
        join(parentPath, file),
        `${size} bytes; the manifest's ${count} images need ${need}`,
      );
    }
  }
  const labels = decodeLabels(labelBytes);
  // keepTest: the parent's test images are a predefined split; everything else is train, and val is carved from it.
  const predefined: (SplitName | undefined)[] = request.keepTest
    ? Array.from(parentCodes, (c) => (c === SPLIT_CODES.test ? 'test' : 'train'))
    : new Array<undefined>(labels.length);
  const { codes, splits } = resolveSplits(labels, predefined, parent.classes.length, request.split);
  const id = versionId({
    height: parent.height,
    width: parent.width,
    channels: parent.channels,
    count: parent.count,
    classes: parent.classes,
    splitSpec: splitSpecForId({ splits }),
    // Hashed again rather than trusted from the parent's id: the new id then vouches for the bytes it links to.
    pixelsDigest: await sha256File(pixelsPath),
    labels: labelBytes,
    splits: codes,
  });
  const target = join(cacheRoot, id);
  if (await exists(join(target, CACHE_FILES.manifest))) return readManifest(target);

  const record: DatasetVersionRecord = {
    ...parent,
    id,
    name: request.name ?? parent.name,
    source: { ...parent.source, resplitOf: parent.id },
    cachePath: resolve(cacheRoot, id),
    splits,
    // The parent's import report still describes these images; nothing was decoded this time.
    report: { ...parent.report, decoders: {}, elapsedMs: Math.round(performance.now() - started) },
    createdAt: (request.now?.() ?? new Date()).toISOString(),
  };
  await mkdir(cacheRoot, { recursive: true });
  const tmp = await mkdtemp(join(cacheRoot, '.splitting-'));
  try {
    await linkOrCopy(pixelsPath, join(tmp, CACHE_FILES.pixels));
    const sources = join(parentPath, CACHE_FILES.sources);
    if (await exists(sources)) await linkOrCopy(sources, join(tmp, CACHE_FILES.sources));
    await writeFile(join(tmp, CACHE_FILES.labels), labelBytes);
    await writeFile(join(tmp, CACHE_FILES.splits), codes);
    await writeFile(join(tmp, CACHE_FILES.manifest), JSON.stringify(record, null, 2) + '\n');
    // Only a folder without a manifest (the leftover of an interrupted write) is removed first: a finished one made
    // meanwhile by a concurrent identical request stays, and the rename below then fails into the catch, which
    // returns it. (Removing it unconditionally left a moment without the version, under a reader's feet.)
    if (!(await exists(join(target, CACHE_FILES.manifest))))
      await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    // Another process made the same version meanwhile: its files are identical by construction.
    if (await exists(join(target, CACHE_FILES.manifest))) return readManifest(target);
    throw error;
  }
  return record;
}
