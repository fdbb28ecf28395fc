import { expect, it } from 'vitest';

import { insertSteps, readSteps } from '../../../app/db/steps.ts';

import { addRun, openTestStore } from './fixtures.ts';

it('stores each step’s seed and per-direction scalars for replay', () => {
  const { db } = openTestStore();
  const run = addRun(db);
  const rows = [
    { step: 1, seed: 0xdeadbeef, scalars: Float32Array.of(0.5, -0.25, 3) },
    { step: 0, seed: 7, scalars: new Float32Array(0) },
  ];
  insertSteps(db, run.id, rows);
  expect(readSteps(db, run.id)).toEqual([rows[1], rows[0]]);
  expect(readSteps(db, run.id, { fromStep: 1 })).toEqual([rows[0]]);
  expect(() => insertSteps(db, run.id, [{ step: 2, seed: -1, scalars: new Float32Array(1) }])).toThrow(
    /CHECK/,
  );
});
