import { expect, it } from 'vitest';

import { createDb, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0100 adds workspace settings: one JSON value per key, keys unique', () => {
  const db = createDb();
  migrateTo(db, 90);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  migrateTo(db, 100);
  expect(tableRows(db, 'runs')).toHaveLength(1);
  insertRows(db, 'settings', [
    { key: 'threads', value: '2', updated_at: 5 },
    { key: 'providers', value: '["cpu"]', updated_at: 6 },
  ]);
  expect(tableRows(db, 'settings').map((r) => [r.key, r.value])).toEqual([
    ['providers', '["cpu"]'],
    ['threads', '2'],
  ]);
  expect(() => insertRows(db, 'settings', [{ key: 'threads', value: '3', updated_at: 7 }])).toThrow(/UNIQUE/);
  expect(() => insertRows(db, 'settings', [{ key: 'x', value: 'not json', updated_at: 7 }])).toThrow(/CHECK/);
  expect(() => insertRows(db, 'settings', [{ key: 'y', value: '3', updated_at: 'now' }])).toThrow(
    /cannot store TEXT value in INTEGER column/,
  );
});
