import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { insertAllocations } from '../../../app/db/allocations.ts';
import { latestCheckpoint, writeCheckpoint } from '../../../app/db/checkpoints.ts';
import { saveDatasetVersion } from '../../../app/db/datasets.ts';
import { StoreImportError } from '../../../app/db/errors.ts';
import { insertEvaluations } from '../../../app/db/evaluations.ts';
import {
  exportRun,
  importMetricsCsv,
  importRun,
  metricsCsv,
  writeMetricsCsv,
} from '../../../app/db/export.ts';
import { insertMetrics, readMetrics } from '../../../app/db/metrics.ts';
import { saveModel } from '../../../app/db/models.ts';
import type { WritableDb } from '../../../app/db/open.ts';
import { createRun, transitionRun } from '../../../app/db/runs.ts';
import { insertSteps } from '../../../app/db/steps.ts';

import { addRun, metricRow, openTestStore, tempDir } from './fixtures.ts';

function richRun(db: WritableDb): number {
  const model = saveModel(db, {
    name: 'tiny-vit',
    kind: 'builtin',
    path: 'assets/tiny.onnx',
    config: { depth: 4 },
    paramCounts: { total: 10 },
    sha256: 'f'.repeat(64),
  });
  saveDatasetVersion(db, {
    id: 'd'.repeat(64),
    name: 'digits',
    source: { kind: 'csv', path: '/data/digits.csv' },
    classes: ['0', '1'],
    count: 100,
    splitCounts: { train: 80, val: 20 },
    height: 8,
    width: 8,
    channels: 1,
    splitSpec: { kind: 'stratified' },
    createdAt: 3,
  });
  const run = createRun(
    db,
    {
      name: 'exported',
      modelId: model.id,
      datasetVersionId: 'd'.repeat(64),
      requestedConfig: { lr: 1e-3 },
      resolvedConfig: { lr: 1e-3, batchSize: 64 },
      seed: 7,
      tags: ['a', 'b'],
      notes: 'notes',
    },
    () => 100,
  );
  transitionRun(db, run.id, 'running', { pid: 5, now: () => 200 });
  insertMetrics(db, run.id, [metricRow(0), metricRow(1, null), metricRow(2, 0.1 + 0.2)]);
  insertAllocations(db, run.id, [
    {
      step: 1,
      sampleIds: Int32Array.of(4, 2),
      counts: Int32Array.of(3, 1),
      losses: Float32Array.of(0.5, 0.125),
      allocatorParams: { alpha: 2 },
    },
  ]);
  insertSteps(db, run.id, [{ step: 1, seed: 0xffffffff, scalars: Float32Array.of(-0.5, 1e-7) }]);
  insertEvaluations(db, run.id, [
    { step: 2, split: 'val', loss: 0.3, accuracy: 0.9, examples: 20, wallMs: 4 },
  ]);
  writeCheckpoint(db, run.id, {
    step: 2,
    params: Float32Array.of(1, 2, 3),
    optimizerState: Uint8Array.of(9, 8, 7),
    rngState: [1, 2, 3, 4],
    allocatorState: { a: 1 },
    loopState: { epoch: 0, cursor: 3 },
  });
  return run.id;
}

describe('run export/import', () => {
  it('round-trips a run through JSON text into another store, as a new run', () => {
    const src = openTestStore().db;
    const id = richRun(src);
    const doc = exportRun(src, id, { checkpoints: 'latest', now: 1 });
    expect(doc.run.status).toBe('running');
    const dst = openTestStore().db;
    addRun(dst); // ids differ between stores
    const imported = importRun(dst, JSON.parse(JSON.stringify(doc)));
    expect(imported.id).not.toBe(id);
    // A run that was live when exported has no process here.
    expect(imported).toMatchObject({ status: 'interrupted', pid: null, startedAt: 200, tags: ['a', 'b'] });
    const again = exportRun(dst, imported.id, { checkpoints: 'latest', now: 1 });
    expect(again).toEqual({ ...doc, run: { ...doc.run, status: 'interrupted' } });
    expect(readMetrics(dst, imported.id)).toEqual(readMetrics(src, id));
    const ck = latestCheckpoint(dst, imported.id);
    expect(ck?.params).toEqual(Float32Array.of(1, 2, 3));
    expect(ck?.optimizerState).toEqual(Uint8Array.of(9, 8, 7));
    // Importing twice makes two runs that share one model and one dataset version.
    importRun(dst, doc);
    expect(dst.prepare('SELECT count(*) FROM models').pluck().get()).toBe(1);
    expect(dst.prepare('SELECT count(*) FROM dataset_versions').pluck().get()).toBe(1);
  });

  it('leaves checkpoints out by default', () => {
    const { db } = openTestStore();
    expect(exportRun(db, richRun(db)).checkpoints).toEqual([]);
  });

  it('rejects malformed documents and tampered checkpoints before writing anything', () => {
    const { db } = openTestStore();
    const doc = exportRun(db, richRun(db), { checkpoints: 'all' });
    const runs = () => db.prepare('SELECT count(*) FROM runs').pluck().get();
    const before = runs();
    expect(() => importRun(db, { format: 'something-else' })).toThrow(StoreImportError);
    expect(() => importRun(db, { ...doc, version: 2 })).toThrow(/not a run export/);
    expect(() => importRun(db, { ...doc, metrics: { ...doc.metrics, rows: [[0, 0, 'x']] } })).toThrow(
      StoreImportError,
    );
    const tampered = structuredClone(doc);
    (tampered.checkpoints[0] as { params: string }).params = Buffer.from(new Float32Array(3)).toString(
      'base64',
    );
    expect(() => importRun(db, tampered)).toThrow(/parameters do not match their sha256/);
    const dup = structuredClone(doc);
    dup.metrics.rows.push(dup.metrics.rows[0] as (typeof dup.metrics.rows)[number]);
    expect(() => importRun(db, dup)).toThrow(/import failed: UNIQUE/);
    expect(runs()).toBe(before);
  });
});

describe('metrics CSV', () => {
  it('exports exact values, streams the same text to a file, and imports it back', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    insertMetrics(db, run.id, [metricRow(0), metricRow(1, null), metricRow(2, 0.1 + 0.2)]);
    const csv = metricsCsv(db, run.id);
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'step,epoch,queries,forward_rows,train_loss,train_acc,lr,grad_norm,variance_estimate,wall_ms',
    );
    expect(lines[2]).toMatch(/^1,0,640,704,,,/);
    expect(lines[3]).toContain(',0.30000000000000004,');
    const file = join(tempDir(), 'm.csv');
    expect(writeMetricsCsv(db, run.id, file)).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe(csv);
    const copy = addRun(db);
    expect(importMetricsCsv(db, copy.id, csv)).toBe(3);
    expect(readMetrics(db, copy.id)).toEqual(readMetrics(db, run.id));
  });

  it('accepts columns in any order with optional ones missing, and names the bad line otherwise', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    expect(importMetricsCsv(db, run.id, 'wall_ms,step,epoch,queries,forward_rows\r\n5,0,0,10,12\r\n')).toBe(
      1,
    );
    expect(readMetrics(db, run.id)[0]).toMatchObject({ step: 0, wallMs: 5, trainLoss: null });
    expect(() => importMetricsCsv(db, run.id, 'step,epoch\n1,0\n')).toThrow(/missing column 'queries'/);
    expect(() => importMetricsCsv(db, run.id, 'step,epoch,queries,forward_rows,wall_ms,color\n')).toThrow(
      /unknown column 'color'/,
    );
    expect(() =>
      importMetricsCsv(db, run.id, 'step,epoch,queries,forward_rows,wall_ms\n1,0,1,1,abc\n'),
    ).toThrow(/line 2: 'wall_ms' is not a number: abc/);
    expect(() =>
      importMetricsCsv(db, run.id, 'step,epoch,queries,forward_rows,wall_ms\n1.5,0,1,1,1\n'),
    ).toThrow(/line 2: bad step/);
    expect(() =>
      importMetricsCsv(db, run.id, 'step,epoch,queries,forward_rows,wall_ms\n0,0,1,1,1\n'),
    ).toThrow(/UNIQUE/);
    expect(readMetrics(db, run.id)).toHaveLength(1);
  });
});
