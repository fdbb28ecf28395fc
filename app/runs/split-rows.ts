// A dataset split read whole into memory and normalised for the model, the rows both problem builders train and
// evaluate on (problem.ts for HF ViTs, problem-onnx.ts for imported ONNX classifiers). Datasets here are small;
// large ones stream later.
import { BatchLoader, type Normalization } from '../../engine/data/loader.ts';
import { kShotPerClass } from '../../engine/data/splits.ts';
import { ConfigError } from '../../engine/errors.ts';
import { deriveSeed } from '../../engine/rng.ts';
import type { DatasetCache } from '../datasets/cache.ts';

export interface SplitRows {
  x: Float32Array; // [n, ...row] in `layout`, normalised
  y: Int32Array;
}

/** The samples at `indices`, in that order, as one batch. */
export async function readSplitRows(
  cache: DatasetCache,
  indices: Int32Array,
  norm: Normalization,
  layout: 'nchw' | 'nhwc',
): Promise<SplitRows> {
  const loader = new BatchLoader(cache, {
    batchSize: indices.length,
    seed: 0,
    indices,
    shuffle: false,
    dropLast: false,
    normalization: norm,
    layout,
    prefetch: false,
  });
  const batch = await loader.batch(0, 0);
  return { x: batch.pixels, y: batch.labels };
}

/**
 * The train indices (the run's k-shot draw when it asks for one) and the eval split's, shared by both problem
 * builders so a ViT and an ONNX run on the same spec see the same images. Throws when either is empty.
 */
export function runSplitIndices(
  cache: DatasetCache,
  req: { seed: number; evalSplit: 'val' | 'test'; kShot?: number },
): { trainIdx: Int32Array; evalIdx: Int32Array } {
  let trainIdx = cache.indices('train');
  if (req.kShot !== undefined) {
    trainIdx = kShotPerClass(cache.labels, req.kShot, deriveSeed(req.seed, 0x6b), { pool: trainIdx });
  }
  const evalIdx = cache.indices(req.evalSplit);
  if (trainIdx.length === 0 || evalIdx.length === 0) {
    throw new ConfigError(
      'datasetVersionId',
      `the dataset has no ${trainIdx.length === 0 ? 'train' : req.evalSplit} samples`,
    );
  }
  return { trainIdx, evalIdx };
}
