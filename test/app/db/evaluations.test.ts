import { expect, it } from 'vitest';

import { insertEvaluations, listEvaluations } from '../../../app/db/evaluations.ts';

import { addRun, openTestStore } from './fixtures.ts';

it('stores evaluation passes and lists them by step, optionally one split', () => {
  const { db } = openTestStore();
  const run = addRun(db);
  insertEvaluations(db, run.id, [
    { step: 200, split: 'val', loss: 0.6, accuracy: 0.8, examples: 6000, wallMs: 50 },
    { step: 100, split: 'val', loss: 0.9, accuracy: 0.7, examples: 6000, wallMs: 40 },
    { step: 200, split: 'test', loss: null, accuracy: null, examples: 0, wallMs: 0 },
  ]);
  expect(listEvaluations(db, run.id, 'val').map((e) => e.step)).toEqual([100, 200]);
  expect(listEvaluations(db, run.id)).toHaveLength(3);
  expect(listEvaluations(db, run.id, 'test')[0]).toEqual({
    step: 200,
    split: 'test',
    loss: null,
    accuracy: null,
    examples: 0,
    wallMs: 0,
  });
});
