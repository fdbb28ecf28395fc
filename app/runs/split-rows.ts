// A dataset split read whole into memory and normalised for the model, the rows both problem builders train and
// evaluate on (problem.ts for HF ViTs, problem-onnx.ts for imported ONNX classifiers). Datasets here are small;
// large ones stream later.
import { BatchLoader, type Normalization } from '../../engine/data/loader.ts';
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
