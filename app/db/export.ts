// Export and import: a run as one self-contained JSON document (its model and dataset-version records, every
// per-step row, optionally its checkpoints) and metrics as CSV. Importing always creates a new run: ids are local
// to a database, so documents carry none, and a document is validated in full before anything is written.
import { closeSync, openSync, writeSync } from 'node:fs';

import { z } from 'zod';

import { insertAllocations, readAllocations } from './allocations.ts';
import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './blob.ts';
import type { CheckpointOptions, StagedCheckpoint } from './checkpoints.ts';
import {
  discardStaged,
  insertStagedCheckpoint,
  listCheckpoints,
  readCheckpoint,
  sha256Hex,
  stageCheckpoint,
} from './checkpoints.ts';
import { getDatasetVersion, saveDatasetVersion } from './datasets.ts';
import { StoreImportError } from './errors.ts';
import { insertEvaluations, listEvaluations } from './evaluations.ts';
import { insertEvents, listEvents } from './events.ts';
import { insertMetrics, iterateMetrics, type MetricRow } from './metrics.ts';
import { getModel, saveModel } from './models.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import { createRun, requireRun, RUN_STATUSES, type Run } from './runs.ts';
import { prepared } from './sql.ts';
import { insertSteps, readSteps } from './steps.ts';

export const RUN_EXPORT_FORMAT = 'flops-workbench/run';
export const RUN_EXPORT_VERSION = 1;

/** Metric rows travel as arrays in this column order: a million rows as objects would triple the document. */
export const METRIC_FIELDS = [
  'step',
  'epoch',
  'queries',
  'forwardRows',
  'trainLoss',
  'trainAcc',
  'lr',
  'gradNorm',
  'varianceEstimate',
  'wallMs',
] as const satisfies readonly (keyof MetricRow)[];

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

const json = z.json();
const num = z.number();
const nullableNum = z.number().nullable();
const base64 = z.base64();

const runExportSchema = z.object({
  format: z.literal(RUN_EXPORT_FORMAT),
  version: z.literal(RUN_EXPORT_VERSION),
  exportedAt: num,
  run: z.object({
    name: z.string(),
    requestedConfig: json,
    resolvedConfig: json.nullable(),
    seed: z.number().int().min(0).max(0xffffffff),
    status: z.enum(RUN_STATUSES),
    executionProvider: z.string().nullable(),
    createdAt: num,
    startedAt: nullableNum,
    finishedAt: nullableNum,
    error: z.string().nullable(),
    notes: z.string(),
    tags: z.array(z.string()),
  }),
  model: z
    .object({
      name: z.string(),
      kind: z.enum(['hf-vit', 'onnx', 'builtin']),
      path: z.string(),
      config: json,
      paramCounts: json,
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .nullable(),
  datasetVersion: z
    .object({
      id: z.string().regex(/^[0-9a-f]{16,128}$/),
      name: z.string(),
      source: z.looseObject({ kind: z.string(), path: z.string() }),
      classes: z.array(z.string()),
      count: z.number().int().nonnegative(),
      splitCounts: json,
      height: z.number().int().positive(),
      width: z.number().int().positive(),
      channels: z.number().int().positive(),
      splitSpec: json,
      preprocess: json.nullable(),
      cachePath: z.string().nullable(),
      report: json.nullable(),
      createdAt: num,
    })
    .nullable(),
  metrics: z.object({
    // The column order is part of the format; a document with other columns is another format.
    fields: z
      .array(z.string())
      .refine((f) => f.join() === METRIC_FIELDS.join(), 'metric fields differ from v1'),
    rows: z.array(
      z.tuple([
        z.number().int().nonnegative(),
        z.number().int(),
        num,
        num,
        nullableNum,
        nullableNum,
        nullableNum,
        nullableNum,
        nullableNum,
        num,
      ]),
    ),
  }),
  allocations: z.array(
    z.object({
      step: z.number().int().nonnegative(),
      sampleIds: base64,
      counts: base64,
      losses: base64,
      allocatorParams: json,
    }),
  ),
  steps: z.array(
    z.object({
      step: z.number().int().nonnegative(),
      seed: z.number().int().min(0).max(0xffffffff),
      scalars: base64,
    }),
  ),
  evaluations: z.array(
    z.object({
      step: z.number().int().nonnegative(),
      split: z.enum(['train', 'val', 'test']),
      loss: nullableNum,
      accuracy: nullableNum,
      examples: z.number().int().nonnegative(),
      wallMs: num,
    }),
  ),
  events: z.array(
    z.object({ ts: num, level: z.enum(['debug', 'info', 'warn', 'error']), kind: z.string(), message: json }),
  ),
  checkpoints: z.array(
    z.object({
      step: z.number().int().nonnegative(),
      paramCount: z.number().int().nonnegative(),
      paramsSha256: z.string().regex(/^[0-9a-f]{64}$/),
      params: base64,
      optimizerState: base64.nullable(),
      rngState: json,
      allocatorState: json.nullable(),
      loopState: json.nullable(),
      createdAt: num,
    }),
  ),
});

export type RunExport = z.infer<typeof runExportSchema>;

export interface ExportOptions {
  /** Include checkpoints with their parameters: 'none' (default; they can be large), the 'latest', or 'all'. */
  checkpoints?: 'none' | 'latest' | 'all';
  now?: number;
}

/** The whole run as a JSON-able document (checkpoint bytes verified on the way out). */
export function exportRun(db: ReadableDb, runId: number, opts: ExportOptions = {}): RunExport {
  const run = requireRun(db, runId);
  const model = run.modelId === null ? undefined : getModel(db, run.modelId);
  const dv = run.datasetVersionId === null ? undefined : getDatasetVersion(db, run.datasetVersionId);
  const rows: RunExport['metrics']['rows'] = [];
  for (const m of iterateMetrics(db, runId))
    rows.push(METRIC_FIELDS.map((f) => m[f]) as RunExport['metrics']['rows'][number]);
  const infos = listCheckpoints(db, runId);
  const chosen = opts.checkpoints === 'all' ? infos : opts.checkpoints === 'latest' ? infos.slice(-1) : [];
  return {
    format: RUN_EXPORT_FORMAT,
    version: RUN_EXPORT_VERSION,
    exportedAt: opts.now ?? Date.now(),
    run: {
      name: run.name,
      requestedConfig: run.requestedConfig,
      resolvedConfig: run.resolvedConfig,
      seed: run.seed,
      status: run.status,
      executionProvider: run.executionProvider,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      error: run.error,
      notes: run.notes,
      tags: run.tags,
    },
    model: model
      ? {
          name: model.name,
          kind: model.kind,
          path: model.path,
          config: model.config,
          paramCounts: model.paramCounts,
          sha256: model.sha256,
        }
      : null,
    datasetVersion: dv
      ? {
          id: dv.id,
          name: dv.name,
          source: dv.source as { kind: string; path: string },
          classes: dv.classes,
          count: dv.count,
          splitCounts: dv.splitCounts,
          height: dv.height,
          width: dv.width,
          channels: dv.channels,
          splitSpec: dv.splitSpec,
          preprocess: dv.preprocess,
          cachePath: dv.cachePath,
          report: dv.report,
          createdAt: dv.createdAt,
        }
      : null,
    metrics: { fields: [...METRIC_FIELDS], rows },
    allocations: readAllocations(db, runId).map((a) => ({
      step: a.step,
      sampleIds: b64(encodeInt32(a.sampleIds)),
      counts: b64(encodeInt32(a.counts)),
      losses: b64(encodeFloat32(a.losses)),
      allocatorParams: a.allocatorParams as z.infer<typeof json>,
    })),
    steps: readSteps(db, runId).map((s) => ({
      step: s.step,
      seed: s.seed,
      scalars: b64(encodeFloat32(s.scalars)),
    })),
    evaluations: listEvaluations(db, runId),
    events: listEvents(db, { runId, limit: -1 })
      .reverse()
      .map((e) => ({ ts: e.ts, level: e.level, kind: e.kind, message: e.message })),
    checkpoints: chosen.map((info) => {
      const c = readCheckpoint(db, info.id);
      if (!c) throw new StoreImportError(`checkpoint ${info.id} vanished during export`);
      return {
        step: c.step,
        paramCount: c.paramCount,
        paramsSha256: c.paramsSha256,
        params: b64(encodeFloat32(c.params)),
        optimizerState: c.optimizerState ? b64(c.optimizerState) : null,
        rngState: c.rngState,
        allocatorState: c.allocatorState,
        loopState: c.loopState,
        createdAt: c.createdAt,
      };
    }),
  };
}

/**
 * Imports a run document as a new run (returned). Validates the whole document first; the model and dataset
 * version are matched to existing records or created; a run that was live when exported comes in 'interrupted'
 * (no process holds it here). Checkpoint parameters must match their sha256.
 */
export function importRun(db: WritableDb, doc: unknown, opts: { checkpoints?: CheckpointOptions } = {}): Run {
  const parsed = runExportSchema.safeParse(doc);
  if (!parsed.success) {
    throw new StoreImportError(
      `not a run export: ${z.prettifyError(parsed.error).split('\n').slice(0, 6).join('; ')}`,
    );
  }
  const d = parsed.data;
  const decodedCheckpoints = d.checkpoints.map((c) => {
    const bytes = unb64(c.params);
    if (bytes.byteLength !== c.paramCount * 4 || sha256Hex(bytes) !== c.paramsSha256) {
      throw new StoreImportError(`checkpoint at step ${c.step}: parameters do not match their sha256`);
    }
    return { ...c, paramsArray: decodeFloat32(bytes) };
  });
  const staged: StagedCheckpoint[] = [];
  try {
    return db.transaction(() => {
      const model = d.model ? saveModel(db, d.model) : undefined;
      if (d.datasetVersion && !getDatasetVersion(db, d.datasetVersion.id))
        saveDatasetVersion(db, d.datasetVersion);
      const created = createRun(db, {
        name: d.run.name,
        modelId: model?.id ?? null,
        datasetVersionId: d.datasetVersion?.id ?? null,
        requestedConfig: d.run.requestedConfig,
        resolvedConfig: d.run.resolvedConfig ?? undefined,
        seed: d.run.seed,
        executionProvider: d.run.executionProvider,
        tags: d.run.tags,
        notes: d.run.notes,
      });
      const live = d.run.status === 'running' || d.run.status === 'paused';
      // A historical record, not a lifecycle step: set status and times as exported (transitionRun would refuse).
      prepared(
        db,
        `UPDATE runs SET status = ?, created_at = ?, started_at = ?, finished_at = ?, error = ? WHERE id = ?`,
      ).run(
        live ? 'interrupted' : d.run.status,
        d.run.createdAt,
        d.run.startedAt,
        d.run.finishedAt,
        d.run.error,
        created.id,
      );
      const runId = created.id;
      insertMetrics(
        db,
        runId,
        d.metrics.rows.map((r) => ({
          step: r[0],
          epoch: r[1],
          queries: r[2],
          forwardRows: r[3],
          trainLoss: r[4],
          trainAcc: r[5],
          lr: r[6],
          gradNorm: r[7],
          varianceEstimate: r[8],
          wallMs: r[9],
        })),
      );
      insertAllocations(
        db,
        runId,
        d.allocations.map((a) => ({
          step: a.step,
          sampleIds: decodeInt32(unb64(a.sampleIds)),
          counts: decodeInt32(unb64(a.counts)),
          losses: decodeFloat32(unb64(a.losses)),
          allocatorParams: a.allocatorParams,
        })),
      );
      insertSteps(
        db,
        runId,
        d.steps.map((s) => ({ step: s.step, seed: s.seed, scalars: decodeFloat32(unb64(s.scalars)) })),
      );
      insertEvaluations(db, runId, d.evaluations);
      insertEvents(
        db,
        d.events.map((e) => ({ runId, ts: e.ts, level: e.level, kind: e.kind, message: e.message })),
      );
      for (const c of decodedCheckpoints) {
        const s = stageCheckpoint(
          db,
          runId,
          {
            step: c.step,
            params: c.paramsArray,
            optimizerState: c.optimizerState === null ? null : unb64(c.optimizerState),
            rngState: c.rngState,
            allocatorState: c.allocatorState ?? undefined,
            loopState: c.loopState ?? undefined,
          },
          { ...opts.checkpoints, now: () => c.createdAt },
        );
        staged.push(s);
        insertStagedCheckpoint(db, s);
      }
      return requireRun(db, runId);
    })();
  } catch (err) {
    for (const s of staged) discardStaged(s);
    if (err instanceof StoreImportError) throw err;
    throw new StoreImportError(`import failed: ${(err as Error).message}`, { cause: err });
  }
}

const CSV_HEADER = [
  'step',
  'epoch',
  'queries',
  'forward_rows',
  'train_loss',
  'train_acc',
  'lr',
  'grad_norm',
  'variance_estimate',
  'wall_ms',
] as const;

function csvLine(m: MetricRow): string {
  // String(n) is the shortest text that parses back to the same double: the CSV round-trips exactly.
  return METRIC_FIELDS.map((f) => (m[f] === null ? '' : String(m[f]))).join(',');
}

/** A run's metrics as CSV text (header + one line per step). Use writeMetricsCsv for long runs. */
export function metricsCsv(db: ReadableDb, runId: number): string {
  requireRun(db, runId);
  const lines = [CSV_HEADER.join(',')];
  for (const m of iterateMetrics(db, runId)) lines.push(csvLine(m));
  return `${lines.join('\n')}\n`;
}

/** Streams a run's metrics to a CSV file in chunks, never holding the whole text. Returns the row count. */
export function writeMetricsCsv(db: ReadableDb, runId: number, file: string): number {
  requireRun(db, runId);
  const fd = openSync(file, 'w');
  let n = 0;
  try {
    let chunk = `${CSV_HEADER.join(',')}\n`;
    for (const m of iterateMetrics(db, runId)) {
      chunk += `${csvLine(m)}\n`;
      n++;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return n;
}

/**
 * Parses metrics CSV (columns in any order; step, epoch, queries, forward_rows and wall_ms required, the others
 * optional; empty = null) and appends the rows to a run. Every line is checked before any row is written.
 */
export function importMetricsCsv(db: WritableDb, runId: number, text: string): number {
  requireRun(db, runId);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const index = new Map(header.map((h, i) => [h, i]));
  for (const h of header) {
    if (!(CSV_HEADER as readonly string[]).includes(h))
      throw new StoreImportError(`metrics CSV: unknown column '${h}'`);
  }
  for (const req of ['step', 'epoch', 'queries', 'forward_rows', 'wall_ms']) {
    if (!index.has(req)) throw new StoreImportError(`metrics CSV: missing column '${req}'`);
  }
  const rows: MetricRow[] = lines.slice(1).map((line, li) => {
    const cells = line.split(',');
    if (cells.length !== header.length) {
      throw new StoreImportError(
        `metrics CSV line ${li + 2}: ${cells.length} cells, expected ${header.length}`,
      );
    }
    const cell = (name: (typeof CSV_HEADER)[number], required: boolean): number | null => {
      const i = index.get(name);
      const raw = i === undefined ? '' : (cells[i] ?? '').trim();
      if (raw === '') {
        if (required) throw new StoreImportError(`metrics CSV line ${li + 2}: '${name}' is empty`);
        return null;
      }
      const v = Number(raw);
      if (Number.isNaN(v))
        throw new StoreImportError(`metrics CSV line ${li + 2}: '${name}' is not a number: ${raw}`);
      return v;
    };
    const step = cell('step', true) as number;
    if (!Number.isInteger(step) || step < 0)
      throw new StoreImportError(`metrics CSV line ${li + 2}: bad step ${step}`);
    return {
      step,
      epoch: cell('epoch', true) as number,
      queries: cell('queries', true) as number,
      forwardRows: cell('forward_rows', true) as number,
      trainLoss: cell('train_loss', false),
      trainAcc: cell('train_acc', false),
      lr: cell('lr', false),
      gradNorm: cell('grad_norm', false),
      varianceEstimate: cell('variance_estimate', false),
      wallMs: cell('wall_ms', true) as number,
    };
  });
  try {
    insertMetrics(db, runId, rows);
  } catch (err) {
    throw new StoreImportError(`metrics CSV: ${(err as Error).message}`, { cause: err });
  }
  return rows.length;
}
