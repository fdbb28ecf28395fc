import { expect, it } from 'vitest';

import { createDb, explain, insertRows, migrateTo, tableRows } from './helpers.ts';

const i32 = (...v: number[]): Buffer => Buffer.from(Int32Array.from(v).buffer);

it('0050 adds allocations with per-sample BLOBs that must agree in length', () => {
  const db = createDb();
  migrateTo(db, 40);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  insertRows(db, 'metrics', [{ run_id: 1, step: 0, epoch: 0, queries: 6, forward_rows: 8, wall_ms: 1 }]);
  migrateTo(db, 50);
  expect(tableRows(db, 'metrics')).toHaveLength(1);
  const row = {
    run_id: 1,
    step: 0,
    sample_ids: i32(5, 9),
    counts: i32(4, 2),
    losses: Buffer.from(Float32Array.of(0.5, 1.5).buffer),
    budget: 6,
    count_min: 2,
    count_max: 4,
    count_mean: 3,
    count_std: 1,
    count_gini: 1 / 6,
    allocator_params: '{"alpha":1}',
  };
  insertRows(db, 'allocations', [row]);
  expect(tableRows(db, 'allocations')).toMatchObject([{ step: 0, budget: 6, counts: i32(4, 2) }]);
  expect(() => insertRows(db, 'allocations', [{ ...row, step: 1, counts: i32(4) }])).toThrow(/CHECK/);
  expect(explain(db, 'SELECT * FROM allocations WHERE run_id = ? AND step BETWEEN ? AND ?', 1, 0, 5)).toMatch(
    /INDEX sqlite_autoindex_allocations_1 \(run_id=\? AND step>\? AND step<\?\)/,
  );
});
