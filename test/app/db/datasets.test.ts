import { expect, it } from 'vitest';

import { getDatasetVersion, listDatasetVersions, saveDatasetVersion } from '../../../app/db/datasets.ts';

import { openTestStore } from './fixtures.ts';

const version = (id: string, name = 'fashion-mnist', createdAt = 1) => ({
  id,
  name,
  source: { kind: 'idx', path: '/usr/share/datasets/fashion-mnist', files: ['train-images-idx3-ubyte.gz'] },
  classes: ['t-shirt', 'trouser'],
  count: 70_000,
  splitCounts: { train: 54_000, val: 6000, test: 10_000 },
  height: 28,
  width: 28,
  channels: 1,
  splitSpec: { kind: 'predefined', spec: { val: 0.1 } },
  cachePath: '/cache/fm',
  report: { scanned: 4, imported: 70_000, skipped: [] },
  createdAt,
});

it('stores content-addressed versions under their dataset, idempotently', () => {
  const { db } = openTestStore();
  const a = saveDatasetVersion(db, version('a'.repeat(64)));
  expect(a).toMatchObject({
    id: 'a'.repeat(64),
    name: 'fashion-mnist',
    sourceKind: 'idx',
    classes: ['t-shirt', 'trouser'],
    splitCounts: { train: 54_000, val: 6000, test: 10_000 },
    preprocess: null,
    createdAt: 1,
  });
  expect(saveDatasetVersion(db, { ...version('a'.repeat(64)), count: 1 })).toEqual(a);
  saveDatasetVersion(db, version('b'.repeat(64), 'fashion-mnist', 2));
  saveDatasetVersion(db, version('c'.repeat(64), 'digits', 3));
  expect(listDatasetVersions(db, 'fashion-mnist').map((v) => v.id[0])).toEqual(['b', 'a']);
  expect(listDatasetVersions(db)).toHaveLength(3);
  expect(getDatasetVersion(db, 'd'.repeat(64))).toBeUndefined();
  expect(() => saveDatasetVersion(db, version('NOT A HASH'))).toThrow(/CHECK/);
});
