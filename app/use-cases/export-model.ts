// 'run/export-model': a run's trained model as a deployable file. The run's spec, its model folder and its latest
// checkpoint give θ; the ViT is prepared exactly as the run's problem was (prepareRunViT: same mode, seed and
// classes), and θ is baked in: a standalone ONNX classifier (LoRA merged, VPT prompts included) or an HF folder.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { z } from 'zod';

import { FlopsError } from '../../engine/errors.ts';
import { exportViTHf, exportViTOnnx, loadViT } from '../../engine/models/vit/index.ts';
import type { AppContext } from '../context.ts';
import { latestCheckpoint } from '../db/checkpoints.ts';
import { getDatasetVersion } from '../db/datasets.ts';
import { getModel } from '../db/models.ts';
import { requireRun } from '../db/runs.ts';
import { prepareRunViT } from '../runs/problem.ts';
import { resolveRunSpec } from '../runs/spec.ts';
import { parseArgs } from './validate.ts';

/** The run has no checkpoint: it never trained (or was cancelled before its first one). */
export class NoCheckpointError extends FlopsError {
  constructor(readonly runId: number) {
    super('NO_CHECKPOINT', `run ${runId} has no checkpoint yet (train it first)`);
  }
}

/** The run's model record or its files are gone. */
export class ModelFilesMissingError extends FlopsError {
  constructor(message: string) {
    super('MODEL_MISSING', message);
  }
}

const exportModelArgs = z.object({
  runId: z.number().int().positive(),
  format: z.enum(['onnx', 'hf']),
  /** ONNX: the file to write. HF: the folder to write (created; config.json, model.safetensors, ...). */
  path: z.string().min(1),
});
export type ExportModelArgs = z.input<typeof exportModelArgs>;

export interface ExportModelResult {
  /** Absolute path of the file (onnx) or folder (hf). */
  path: string;
  format: 'onnx' | 'hf';
  /** The ONNX file's size, or the sum of the HF folder's files. */
  bytes: number;
  /** sha256 of the ONNX file, or of the HF folder's model.safetensors. */
  sha256: string;
  step: number;
}

export async function exportModel(ctx: AppContext, args: ExportModelArgs): Promise<ExportModelResult> {
  const a = parseArgs('run/export-model', exportModelArgs, args);
  const db = ctx.workspace.db;
  const run = requireRun(db, a.runId);
  const spec = resolveRunSpec(run.requestedConfig);
  const model = getModel(db, spec.modelId);
  if (!model) throw new ModelFilesMissingError(`model ${spec.modelId} is not in the store`);
  if (!existsSync(model.path)) {
    throw new ModelFilesMissingError(
      `model ${model.id} (${model.name}): its files are gone from ${model.path}`,
    );
  }
  // Runs on imported ONNX classifiers train initializers of a foreign graph (or a head over its features); writing
  // θ back into that graph is not implemented yet.
  if (model.kind !== 'hf-vit' || spec.mode.kind === 'onnx') {
    throw new FlopsError(
      'MODEL_FORMAT',
      `run ${a.runId} trained an ONNX model; exporting those is not supported yet`,
    );
  }
  const checkpoint = latestCheckpoint(db, a.runId);
  if (!checkpoint) throw new NoCheckpointError(a.runId);
  const dataset = getDatasetVersion(db, spec.datasetVersionId);
  if (!dataset) throw new FlopsError('DATASET_MISSING', `dataset version ${spec.datasetVersionId} is gone`);

  const { config, weights } = await loadViT(model.path);
  const prepared = prepareRunViT(config, weights, {
    mode: spec.mode,
    seed: spec.train.seed,
    classes: dataset.classes,
  });
  const out = resolve(a.path);
  if (a.format === 'onnx') {
    const bytes = exportViTOnnx(prepared, checkpoint.params);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, bytes);
    return { path: out, format: 'onnx', bytes: bytes.length, sha256: sha256(bytes), step: checkpoint.step };
  }
  await exportViTHf(prepared, out, checkpoint.params);
  let total = 0;
  for (const name of await readdir(out)) total += (await stat(join(out, name))).size;
  const weightsFile = await readFile(join(out, 'model.safetensors'));
  return { path: out, format: 'hf', bytes: total, sha256: sha256(weightsFile), step: checkpoint.step };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
