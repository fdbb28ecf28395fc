import { expect, it } from 'vitest';

import { createDb, HASH_A, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0080 adds checkpoints that hold their parameters either inline or in a file, never both', () => {
  const db = createDb();
  migrateTo(db, 70);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  insertRows(db, 'evaluations', [{ run_id: 1, step: 0, split: 'val', examples: 1, wall_ms: 1 }]);
  migrateTo(db, 80);
  expect(tableRows(db, 'evaluations')).toHaveLength(1);
  const base = { run_id: 1, param_count: 1, params_sha256: HASH_A, rng_state: '[1,2,3,4]', created_at: 2 };
  insertRows(db, 'checkpoints', [
    { ...base, step: 10, params_blob: Buffer.alloc(4) },
    { ...base, step: 20, params_path: 'checkpoints/run-1/step-20.f32' },
  ]);
  expect(tableRows(db, 'checkpoints').map((r) => r.step)).toEqual([10, 20]);
  expect(() => insertRows(db, 'checkpoints', [{ ...base, step: 30 }])).toThrow(/CHECK/);
  expect(() =>
    insertRows(db, 'checkpoints', [{ ...base, step: 30, params_blob: Buffer.alloc(4), params_path: 'x' }]),
  ).toThrow(/CHECK/);
  expect(() => insertRows(db, 'checkpoints', [{ ...base, step: 10, params_blob: Buffer.alloc(4) }])).toThrow(
    /UNIQUE/,
  );
  expect(() =>
    insertRows(db, 'checkpoints', [
      { ...base, step: 40, params_blob: Buffer.alloc(4), optimizer_state: Buffer.alloc(8) },
    ]),
  ).toThrow(/CHECK/);
});
