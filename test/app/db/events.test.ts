import { expect, it } from 'vitest';

import { insertEvents, listEvents } from '../../../app/db/events.ts';

import { addRun, openTestStore } from './fixtures.ts';

it('stores JSON events per run or app-wide and pages them newest first', () => {
  const { db } = openTestStore();
  const run = addRun(db);
  insertEvents(db, [
    { runId: null, level: 'info', kind: 'app/started', message: { version: '0.1.0' }, ts: 1 },
    { runId: run.id, level: 'warn', kind: 'run/slow', message: { stepMs: 900 }, ts: 2 },
    { runId: run.id, level: 'error', kind: 'run/oops', message: 'text', ts: 3 },
  ]);
  expect(listEvents(db).map((e) => e.kind)).toEqual(['run/oops', 'run/slow', 'app/started']);
  expect(listEvents(db, { runId: null }).map((e) => e.message)).toEqual([{ version: '0.1.0' }]);
  const page = listEvents(db, { runId: run.id, limit: 1 });
  expect(page.map((e) => e.message)).toEqual(['text']);
  expect(listEvents(db, { runId: run.id, beforeId: page[0]?.id ?? 0 }).map((e) => e.kind)).toEqual([
    'run/slow',
  ]);
  expect(listEvents(db, { levels: ['warn', 'error'] })).toHaveLength(2);
});
