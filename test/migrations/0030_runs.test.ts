import { expect, it } from 'vitest';

import { createDb, explain, HASH_A, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0030 adds runs and tags that reference existing models and dataset versions', () => {
  const db = createDb();
  migrateTo(db, 20);
  insertRows(db, 'datasets', [{ id: 1, name: 'digits', created_at: 1 }]);
  insertRows(db, 'dataset_versions', [
    {
      id: HASH_A,
      dataset_id: 1,
      source_kind: 'csv',
      source_path: '/d.csv',
      source: '{}',
      class_names: '[]',
      count: 0,
      split_counts: '{}',
      height: 8,
      width: 8,
      channels: 1,
      split_spec: '{}',
      created_at: 1,
    },
  ]);
  insertRows(db, 'models', [
    {
      id: 7,
      name: 'm',
      kind: 'onnx',
      path: 'm.onnx',
      config: '{}',
      param_counts: '{}',
      sha256: HASH_A,
      created_at: 1,
    },
  ]);
  migrateTo(db, 30);
  insertRows(db, 'runs', [
    {
      id: 1,
      name: 'lr 1e-3',
      model_id: 7,
      dataset_version_id: HASH_A,
      requested_config: '{}',
      seed: 1,
      created_at: 5,
    },
  ]);
  insertRows(db, 'run_tags', [
    { run_id: 1, tag: 'baseline' },
    { run_id: 1, tag: 'flops' },
  ]);
  expect(tableRows(db, 'runs')).toMatchObject([{ id: 1, status: 'queued', notes: '', pid: null }]);
  expect(tableRows(db, 'run_tags')).toHaveLength(2);
  // Foreign keys are on: a run cannot point at a missing model, and a referenced model cannot be deleted.
  expect(() =>
    insertRows(db, 'runs', [{ name: 'x', model_id: 99, requested_config: '{}', seed: 1, created_at: 6 }]),
  ).toThrow(/FOREIGN KEY/);
  expect(() => db.prepare('DELETE FROM models WHERE id = 7').run()).toThrow(/FOREIGN KEY/);
  expect(() =>
    insertRows(db, 'runs', [{ name: 'x', requested_config: '{}', seed: 1, status: 'done', created_at: 6 }]),
  ).toThrow(/CHECK/);
  db.prepare('DELETE FROM runs WHERE id = 1').run();
  expect(tableRows(db, 'run_tags')).toEqual([]);
  expect(explain(db, 'SELECT run_id FROM run_tags WHERE tag = ?', 'flops')).toMatch(/INDEX run_tags_by_tag/);
  expect(explain(db, `SELECT id FROM runs WHERE status = 'running'`)).toMatch(/INDEX runs_by_status/);
});
