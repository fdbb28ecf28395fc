import { expect, it } from 'vitest';

import { createDb, explain, HASH_A, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0020 adds models next to existing datasets, looked up by sha256 through an index', () => {
  const db = createDb();
  migrateTo(db, 10);
  insertRows(db, 'datasets', [{ id: 1, name: 'digits', created_at: 1 }]);
  migrateTo(db, 20);
  expect(tableRows(db, 'datasets')).toEqual([{ id: 1, name: 'digits', created_at: 1 }]);
  insertRows(db, 'models', [
    {
      name: 'tiny-vit',
      kind: 'builtin',
      path: 'assets/tiny-vit.onnx',
      config: '{"depth":4}',
      param_counts: '{"total":139018}',
      sha256: HASH_A,
      created_at: 2,
    },
  ]);
  expect(tableRows(db, 'models')).toMatchObject([{ id: 1, kind: 'builtin', sha256: HASH_A }]);
  expect(() =>
    insertRows(db, 'models', [
      {
        name: 'x',
        kind: 'tflite',
        path: 'x',
        config: '{}',
        param_counts: '{}',
        sha256: HASH_A,
        created_at: 3,
      },
    ]),
  ).toThrow(/CHECK/);
  expect(explain(db, 'SELECT id FROM models WHERE sha256 = ?', HASH_A)).toMatch(/INDEX models_by_sha256/);
});
