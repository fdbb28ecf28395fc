import { expect, it } from 'vitest';

import { createDb, explain, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0070 adds evaluations, read per split in step order from the primary key', () => {
  const db = createDb();
  migrateTo(db, 60);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  insertRows(db, 'steps', [{ run_id: 1, step: 0, seed: 1, directions: 0, scalars: Buffer.alloc(0) }]);
  migrateTo(db, 70);
  expect(tableRows(db, 'steps')).toHaveLength(1);
  insertRows(db, 'evaluations', [
    { run_id: 1, step: 100, split: 'val', loss: 0.7, accuracy: 0.8, examples: 6000, wall_ms: 12 },
    { run_id: 1, step: 100, split: 'test', loss: 0.75, accuracy: 0.79, examples: 10000, wall_ms: 20 },
  ]);
  expect(tableRows(db, 'evaluations').map((r) => r.split)).toEqual(['test', 'val']);
  expect(() =>
    insertRows(db, 'evaluations', [{ run_id: 1, step: 1, split: 'dev', examples: 1, wall_ms: 1 }]),
  ).toThrow(/CHECK/);
  const plan = explain(db, `SELECT * FROM evaluations WHERE run_id = ? AND split = 'val' ORDER BY step`, 1);
  expect(plan).toMatch(/USING PRIMARY KEY \(run_id=\? AND split=\?\)/);
  expect(plan).not.toMatch(/TEMP B-TREE/);
});
