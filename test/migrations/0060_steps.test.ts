import { expect, it } from 'vitest';

import { createDb, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0060 adds replay rows: a u32 seed and one Float32 scalar per direction', () => {
  const db = createDb();
  migrateTo(db, 50);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  migrateTo(db, 60);
  expect(tableRows(db, 'runs')).toHaveLength(1);
  const scalars = Buffer.from(Float32Array.of(0.25, -1).buffer);
  insertRows(db, 'steps', [{ run_id: 1, step: 3, seed: 0xffffffff, directions: 2, scalars }]);
  expect(tableRows(db, 'steps')).toEqual([{ run_id: 1, step: 3, seed: 0xffffffff, directions: 2, scalars }]);
  expect(() =>
    insertRows(db, 'steps', [{ run_id: 1, step: 4, seed: 2 ** 32, directions: 2, scalars }]),
  ).toThrow(/CHECK/);
  expect(() => insertRows(db, 'steps', [{ run_id: 1, step: 4, seed: 1, directions: 3, scalars }])).toThrow(
    /CHECK/,
  );
});
