import { describe, expect, it } from 'vitest';

import { benchDatasets } from '../../../app/datasets/datasets-bench.ts';

describe('benchDatasets', () => {
  // A smoke test on a small folder: the bench must keep running as the importer changes. Rates are not asserted
  // (shared CI cores make them noisy); `npm run bench` reports them.
  it('reports positive import and cached-batch rates', async () => {
    const r = await benchDatasets({ images: 60, epochs: 1 });
    expect(r.import_images_per_sec).toBeGreaterThan(0);
    expect(r.cached_batches_per_sec).toBeGreaterThan(0);
    expect(Object.keys(r).sort()).toEqual(['cached_batches_per_sec', 'import_images_per_sec']);
  });
});
