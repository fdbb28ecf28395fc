import { expect, it } from 'vitest';

import { createDb, explain, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0040 adds metrics and their rollups, keyed for range scans of one run', () => {
  const db = createDb();
  migrateTo(db, 30);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  migrateTo(db, 40);
  expect(tableRows(db, 'runs')).toHaveLength(1);
  insertRows(db, 'metrics', [
    { run_id: 1, step: 0, epoch: 0, queries: 640, forward_rows: 704, train_loss: 2.3, wall_ms: 10 },
    { run_id: 1, step: 1, epoch: 0, queries: 1280, forward_rows: 1408, train_loss: null, wall_ms: 20 },
  ]);
  insertRows(db, 'metric_rollups', [
    { run_id: 1, level: 1, bucket: 0, step_min: 0, step_max: 1, train_loss_lo: 2.3, train_loss_lo_step: 0 },
  ]);
  expect(tableRows(db, 'metrics').map((r) => r.train_loss)).toEqual([2.3, null]);
  expect(() =>
    insertRows(db, 'metrics', [{ run_id: 1, step: 1, epoch: 0, queries: 0, forward_rows: 0, wall_ms: 0 }]),
  ).toThrow(/UNIQUE/);
  // The primary key is the access path: no separate index, no temp sort for a step range.
  const plan = explain(
    db,
    'SELECT * FROM metrics WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step',
    1,
    0,
    9,
  );
  expect(plan).toMatch(/SEARCH metrics USING PRIMARY KEY \(run_id=\? AND step>\? AND step<\?\)/);
  expect(plan).not.toMatch(/TEMP B-TREE/);
  expect(
    explain(
      db,
      'SELECT * FROM metric_rollups WHERE run_id = ? AND level = ? AND bucket BETWEEN ? AND ?',
      1,
      2,
      0,
      9,
    ),
  ).toMatch(/SEARCH metric_rollups USING PRIMARY KEY \(run_id=\? AND level=\? AND bucket>\? AND bucket<\?\)/);
  db.prepare('DELETE FROM runs WHERE id = 1').run();
  expect(tableRows(db, 'metrics')).toEqual([]);
  expect(tableRows(db, 'metric_rollups')).toEqual([]);
});
