import { expect, it } from 'vitest';

import { createDb, explain, HASH_A, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0010 creates datasets and content-addressed dataset_versions', () => {
  const db = createDb();
  migrateTo(db, 0);
  migrateTo(db, 10);
  insertRows(db, 'datasets', [{ id: 1, name: 'fashion-mnist', created_at: 1 }]);
  insertRows(db, 'dataset_versions', [
    {
      id: HASH_A,
      dataset_id: 1,
      source_kind: 'idx',
      source_path: '/usr/share/datasets/fashion-mnist',
      source: '{"kind":"idx","path":"/usr/share/datasets/fashion-mnist"}',
      class_names: '["t-shirt","trouser"]',
      count: 70000,
      split_counts: '{"train":54000,"val":6000,"test":10000}',
      height: 28,
      width: 28,
      channels: 1,
      split_spec: '{"kind":"predefined"}',
      created_at: 2,
    },
  ]);
  expect(tableRows(db, 'dataset_versions')).toMatchObject([{ id: HASH_A, count: 70000, cache_path: null }]);
  // A version id must be a lowercase hex hash, class names a JSON array; STRICT rejects a text count.
  const bad = { ...tableRows(db, 'dataset_versions')[0] };
  expect(() => insertRows(db, 'dataset_versions', [{ ...bad, id: 'NOT-HEX-NOT-HEX-NOT' }])).toThrow(/CHECK/);
  expect(() =>
    insertRows(db, 'dataset_versions', [{ ...bad, id: 'c'.repeat(64), class_names: '{}' }]),
  ).toThrow(/CHECK/);
  expect(() => insertRows(db, 'dataset_versions', [{ ...bad, id: 'c'.repeat(64), count: 'many' }])).toThrow(
    /cannot store TEXT value in INTEGER column/,
  );
  expect(explain(db, 'SELECT id FROM dataset_versions WHERE dataset_id = ? ORDER BY created_at', 1)).toMatch(
    /USING (COVERING )?INDEX dataset_versions_by_dataset/,
  );
});
