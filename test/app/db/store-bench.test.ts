import { expect, it } from 'vitest';

import { benchStore } from '../../../app/db/store-bench.ts';

it('benchStore runs end to end on a small store and reports both numbers', async () => {
  // The 1 M-row numbers belong to `npm run bench`; here only that the harness works.
  const r = await benchStore({ rows: 20_000, runs: 3, points: 200 });
  expect(Object.keys(r).sort()).toEqual(['chart_query_ms', 'metric_rows_per_sec']);
  expect(r.metric_rows_per_sec).toBeGreaterThan(0);
  expect(r.chart_query_ms).toBeGreaterThan(0);
});
