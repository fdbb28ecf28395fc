// 'run/export-model': a run's trained model as a deployable file. The run's spec, its model folder and its latest
// checkpoint give θ; the ViT is prepared exactly as the run's problem was (prepareRunViT: same mode, seed and
// classes), and θ is baked in: a standalone ONNX classifier (LoRA merged, VPT prompts included) or an HF folder.
// A run on an imported .onnx classifier is planned again from the file (planOnnxRun, as its problem was built) and
// θ is written into the original graph: its trained initializers, or its output layer (a new head where the
// dataset's classes needed one). Same inputs and outputs as the imported file; ONNX only.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { z } from 'zod';

import { FlopsError, ModelError } from '../../engine/errors.ts';
import { writeInitializers, writeOutputLinear } from '../../engine/onnx/write-back.ts';
import { exportViTHf, exportViTOnnx, loadViT, trainableCount } from '../../engine/models/vit/index.ts';
import type { AppContext } from '../context.ts';
import { latestCheckpoint, sha256Hex } from '../db/checkpoints.ts';
import { getDatasetVersion } from '../db/datasets.ts';
import { getModel } from '../db/models.ts';
import { requireRun } from '../db/runs.ts';
import { planOnnxRun } from '../runs/onnx-plan.ts';
import { prepareRunViT } from '../runs/problem.ts';
import { resolveRunSpec, type RunMode } from '../runs/spec.ts';
import { InvalidArgumentsError, parseArgs } from './validate.ts';

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

/** The format cannot hold the run's model (an imported ONNX classifier has no Hugging Face form). */
export class ExportFormatError extends FlopsError {
  constructor(message: string) {
    super('MODEL_FORMAT', message);
  }
}

/** The checkpoint does not fit what the run's spec trains on its model (the file changed since the run). */
export class CheckpointMismatchError extends FlopsError {
  constructor(message: string) {
    super('CHECKPOINT_MISMATCH', message);
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
  if (model.kind === 'onnx' && a.format !== 'onnx') {
    throw new ExportFormatError(
      `run ${a.runId} trained the imported ONNX model ${model.id} (${model.name}); it exports as ONNX only (format 'onnx'): a Hugging Face folder needs a ViT checkpoint`,
    );
  }
  if (model.kind !== 'onnx' && model.kind !== 'hf-vit') {
    throw new ExportFormatError(`run ${a.runId} trained a ${model.kind} model, which has no export`);
  }
  const checkpoint = latestCheckpoint(db, a.runId);
  if (!checkpoint) throw new NoCheckpointError(a.runId);
  const dataset = getDatasetVersion(db, spec.datasetVersionId);
  if (!dataset) throw new FlopsError('DATASET_MISSING', `dataset version ${spec.datasetVersionId} is gone`);
  const out = resolve(a.path);
  if (a.format === 'onnx') await checkOnnxTarget(out);
  if (model.kind === 'onnx') {
    const bytes = await trainedOnnx(model.path, spec.mode, dataset, checkpoint.params, a.runId);
    await writeOnnx(out, bytes);
    return {
      path: out,
      format: 'onnx',
      bytes: bytes.length,
      sha256: sha256Hex(bytes),
      step: checkpoint.step,
    };
  }
  // run/validate refuses an onnx mode on a ViT folder; a stored spec that has one anyway has nothing to export.
  if (spec.mode.kind === 'onnx') {
    throw new ExportFormatError(`run ${a.runId} has an ONNX mode on the ViT folder ${model.path}`);
  }

  const { config, weights } = await loadViT(model.path);
  const prepared = prepareRunViT(config, weights, {
    mode: spec.mode,
    seed: spec.train.seed,
    classes: dataset.classes,
  });
  // θ must fit what the spec trains now (withTrainable's ModelError named neither the run nor the cause).
  const trains = trainableCount(prepared);
  if (checkpoint.params.length !== trains) {
    throw new CheckpointMismatchError(
      `run ${a.runId}: its checkpoint has ${checkpoint.params.length} values; its ${spec.mode.kind} mode trains ${trains} (the run's spec or model changed since step ${checkpoint.step})`,
    );
  }
  if (a.format === 'onnx') {
    const bytes = exportViTOnnx(prepared, checkpoint.params);
    await writeOnnx(out, bytes);
    return {
      path: out,
      format: 'onnx',
      bytes: bytes.length,
      sha256: sha256Hex(bytes),
      step: checkpoint.step,
    };
  }
  await exportViTHf(prepared, out, checkpoint.params);
  let total = 0;
  for (const name of await readdir(out)) total += (await stat(join(out, name))).size;
  const weightsFile = await readFile(join(out, 'model.safetensors'));
  return { path: out, format: 'hf', bytes: total, sha256: sha256Hex(weightsFile), step: checkpoint.step };
}

/**
 * The imported ONNX file with the run's θ written in. The plan is made again from the file and the dataset, so θ
 * lands on the tensors the run trained: the trainable initializers in θ order, or the output layer for the head
 * case (a new head when the file's layer has other classes). The class names go into the model's metadata.
 */
async function trainedOnnx(
  file: string,
  mode: RunMode,
  dataset: { classes: string[]; height: number; width: number; channels: number },
  theta: Float32Array,
  runId: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(file));
  const shape = {
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    classes: dataset.classes.length,
  };
  const planned = planOnnxRun(bytes, file, mode, shape, undefined);
  if (!planned.plan) {
    throw new CheckpointMismatchError(
      `run ${runId}: ${file} no longer fits the run (${planned.issues.map((i) => `${i.field}: ${i.message}`).join('; ')})`,
    );
  }
  const plan = planned.plan;
  const meta = {
    file,
    metadata: { 'flops.classes': JSON.stringify(dataset.classes), 'flops.run': String(runId) },
  };
  try {
    if (plan.head) {
      return writeOutputLinear(bytes, plan.head, theta, dataset.classes.length, {
        ...meta,
        ...(plan.logits ? { logits: plan.logits } : {}),
      });
    }
    return writeInitializers(bytes, plan.trainable, theta, meta);
  } catch (error) {
    // θ's length no longer matches the tensors (the file was replaced since the run): say which run and file.
    if (error instanceof ModelError) throw new CheckpointMismatchError(`run ${runId}: ${error.message}`);
    throw error;
  }
}

/**
 * Refuses an ONNX target that cannot be a file, before any work: an existing folder (writeFile's bare EISDIR crossed
 * the contract as an untyped error) or a path below an existing file (ENOTDIR). A missing folder is created.
 */
async function checkOnnxTarget(out: string): Promise<void> {
  const bad = (message: string) =>
    new InvalidArgumentsError('run/export-model', [{ field: 'path', message }]);
  const target = await stat(out).catch(() => undefined);
  if (target?.isDirectory()) throw bad(`${out} is a folder; give the path of the .onnx file to write`);
  // The nearest existing ancestor must be a folder.
  for (let dir = dirname(out); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) throw bad(`${dir} is a file, not a folder: cannot write ${out}`);
      break;
    }
    if (dirname(dir) === dir) break;
  }
}

/**
 * Writes the file whole or not at all: into a temporary file beside it, then renamed over the target, so a failed
 * write (a full disk) leaves neither a truncated .onnx nor a damaged earlier export behind.
 */
async function writeOnnx(out: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, out);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
