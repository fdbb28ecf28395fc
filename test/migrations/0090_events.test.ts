import { expect, it } from 'vitest';

import { createDb, explain, insertRows, migrateTo, tableRows } from './helpers.ts';

it('0090 adds the event log, per run or app-wide, with JSON messages', () => {
  const db = createDb();
  migrateTo(db, 80);
  insertRows(db, 'runs', [{ id: 1, name: 'r', requested_config: '{}', seed: 0, created_at: 1 }]);
  migrateTo(db, 90);
  expect(tableRows(db, 'runs')).toHaveLength(1);
  insertRows(db, 'events', [
    { run_id: 1, ts: 5, level: 'warn', kind: 'run/interrupted', message: '{"pid":42}' },
    { run_id: null, ts: 6, level: 'info', kind: 'app/started', message: '{}' },
  ]);
  expect(tableRows(db, 'events').map((e) => e.kind)).toEqual(['run/interrupted', 'app/started']);
  expect(() => insertRows(db, 'events', [{ ts: 1, level: 'fatal', kind: 'x', message: '{}' }])).toThrow(
    /CHECK/,
  );
  expect(() => insertRows(db, 'events', [{ ts: 1, level: 'info', kind: 'x', message: 'not json' }])).toThrow(
    /CHECK/,
  );
  expect(explain(db, 'SELECT * FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 50', 1)).toMatch(
    /INDEX events_by_run \(run_id=\?\)/,
  );
  db.prepare('DELETE FROM runs').run();
  expect(tableRows(db, 'events').map((e) => e.kind)).toEqual(['app/started']);
});
