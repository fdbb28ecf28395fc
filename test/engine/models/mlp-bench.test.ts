import { expect, it } from 'vitest';

import { benchMlpInference } from '../../../engine/models/mlp-bench.ts';

it('benchMlpInference reports a positive rows/s for the 784-128-64-10 MLP at batch 64', async () => {
  const r = await benchMlpInference({ runs: 40, warmup: 5, intraOpNumThreads: 1 });
  console.log(
    `[mlp-bench.test] ${Math.round(r.inference_rows_per_sec)} rows/s (median ${r.median_ms.toFixed(3)} ms/batch)`,
  );
  expect(r.provider).toBe('cpu');
  expect(r.batch).toBe(64);
  expect(Number.isFinite(r.inference_rows_per_sec)).toBe(true);
  expect(r.inference_rows_per_sec).toBeGreaterThan(1000);
});
