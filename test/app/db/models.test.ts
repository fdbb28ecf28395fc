import { expect, it } from 'vitest';

import { findModelsBySha256, getModel, listModels, saveModel } from '../../../app/db/models.ts';

import { openTestStore } from './fixtures.ts';

it('registers models once per weights and location, and finds them by sha256', () => {
  const { db } = openTestStore();
  const input = {
    name: 'tiny-vit',
    kind: 'builtin' as const,
    path: 'assets/tiny-vit.onnx',
    config: { depth: 4 },
    paramCounts: { total: 139_018 },
    sha256: 'e'.repeat(64),
  };
  const m = saveModel(db, input, () => 9);
  expect(m).toEqual({ id: m.id, ...input, createdAt: 9 });
  expect(saveModel(db, input)).toEqual(m);
  const copy = saveModel(db, { ...input, name: 'copy', kind: 'onnx', path: '/tmp/copy.onnx' });
  expect(findModelsBySha256(db, 'e'.repeat(64)).map((x) => x.id)).toEqual([m.id, copy.id]);
  expect(listModels(db).map((x) => x.name)).toEqual(['copy', 'tiny-vit']);
  expect(getModel(db, 999)).toBeUndefined();
  expect(() => saveModel(db, { ...input, kind: 'tflite' as never })).toThrow(/CHECK/);
});
