// Model use cases: register a Hugging Face ViT/DeiT folder (or an ONNX classifier file), list them, and count the
// trainable parameters of each trainable mode, which is what decides between SPSA and LR and sizes the budget.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';

import { z } from 'zod';

import { FlopsError } from '../../engine/errors.ts';
import type { TrainMode } from '../../engine/models/vit/index.ts';
import type { AppContext } from '../context.ts';
import { sha256Hex } from '../db/checkpoints.ts';
import { getModel, listModels as listStoredModels, saveModel, type Model } from '../db/models.ts';
import { trainModeSchema, type OnnxMode } from '../runs/spec.ts';
import { NotFoundError, parseArgs } from './validate.ts';

/** The ViT code (with protobuf for ONNX) loads on use: most commands never touch a model file. */
const vit = () => import('../../engine/models/vit/index.ts');

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const importArgs = z.object({
  /** A Hugging Face folder (config.json, model.safetensors, preprocessor_config.json) or an .onnx file. */
  path: z.string().min(1),
  name: z.string().trim().min(1).max(200).optional(),
});

export type ImportModelArgs = z.input<typeof importArgs>;

export async function importModel(ctx: AppContext, args: ImportModelArgs): Promise<Model> {
  const a = parseArgs('model/import', importArgs, args);
  const { listOnnxInitializers, loadViT, loadViTConfig } = await vit();
  const path = resolve(a.path);
  const info = await stat(path).catch(() => {
    throw new FlopsError('MODEL_MISSING', `${path} does not exist`);
  });
  if (info.isFile() && extname(path).toLowerCase() === '.onnx') {
    const bytes = await readFile(path);
    const initializers = listOnnxInitializers(bytes, path);
    return saveModel(ctx.workspace.db, {
      name: a.name ?? basename(path, extname(path)),
      kind: 'onnx',
      path,
      config: {
        initializers: initializers.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype })),
      },
      paramCounts: { total: initializers.reduce((s, i) => s + i.size, 0) },
      sha256: sha256Hex(bytes),
    });
  }
  if (!info.isDirectory()) {
    throw new FlopsError('MODEL_FORMAT', `${path}: expected a Hugging Face model folder or an .onnx file`);
  }
  const config = await loadViTConfig(path);
  const weightsFile = join(path, 'model.safetensors');
  const { weights } = await loadViT(path);
  let total = 0;
  for (const t of weights.values()) total += t.data.length;
  return saveModel(ctx.workspace.db, {
    name: a.name ?? basename(path),
    kind: 'hf-vit',
    path,
    config,
    paramCounts: { total },
    sha256: await sha256File(weightsFile),
  });
}

export async function listModels(ctx: AppContext, args: Record<string, never> = {}): Promise<Model[]> {
  parseArgs('model/list', z.object({}), args);
  return listStoredModels(ctx.workspace.db);
}

const modesArgs = z.object({
  id: z.number().int().positive(),
  /** Classes of the new head (default: the checkpoint's head, else 10). */
  numClasses: z.number().int().positive().max(100_000).optional(),
  /** Count these modes instead of the defaults of every kind. */
  modes: z.array(trainModeSchema).optional(),
});

export interface ModeCount {
  mode: TrainMode | OnnxMode;
  trainable: number;
  /** trainable / total. */
  fraction: number;
}

/** One initializer of an imported ONNX model, as a run's `{kind: 'onnx', trainable}` can name it. */
export interface OnnxInitializerEntry {
  name: string;
  shape: number[];
  dtype: string;
  /** Parameter count (product of the shape). */
  size: number;
  /** Only FLOAT initializers can train. */
  trainable: boolean;
  /** Part of the layer that writes the logits (the default set; LR applies only when exactly it trains). */
  head: boolean;
}

/** What a run on an imported ONNX model can train (model/modes on an .onnx model). */
export interface OnnxModes {
  initializers: OnnxInitializerEntry[];
  /** The default trainable set: the logits layer's weight (and bias); [] when the logits come from no such layer. */
  defaultTrainable: string[];
  /** The logits layer's output count, when that layer was found. */
  outputs: number | null;
  /**
   * Whether training the default set makes a new head (seeded Xavier) because the layer's outputs are not
   * numClasses; its parameter count in `modes` is the new head's.
   */
  newHead: boolean;
}

export interface ModelModes {
  modelId: number;
  total: number;
  numClasses: number;
  modes: ModeCount[];
  /** Set for imported ONNX models only. */
  onnx?: OnnxModes;
}

/** One sensible instance of each trainable mode kind. */
export const DEFAULT_MODES: TrainMode[] = [
  { kind: 'head' },
  { kind: 'bitfit' },
  { kind: 'lora', rank: 4, alpha: 8 },
  { kind: 'vpt', prompts: 4 },
  { kind: 'last-k', k: 1 },
  { kind: 'full' },
];

export function getModelOrThrow(ctx: AppContext, id: number): Model {
  const model = getModel(ctx.workspace.db, id);
  if (!model) throw new NotFoundError('model', id);
  return model;
}

export async function modelModes(ctx: AppContext, args: z.input<typeof modesArgs>): Promise<ModelModes> {
  const a = parseArgs('model/modes', modesArgs, args);
  const model = getModelOrThrow(ctx, a.id);
  if (model.kind === 'onnx') return onnxModes(model, a.numClasses);
  if (model.kind !== 'hf-vit') {
    const total = (model.paramCounts as { total?: number }).total ?? 0;
    return { modelId: model.id, total, numClasses: a.numClasses ?? 0, modes: [] };
  }
  const { loadViT, prepareViT, trainableCount } = await vit();
  const { config, weights } = await loadViT(model.path);
  let total = 0;
  for (const t of weights.values()) total += t.data.length;
  const numClasses = a.numClasses ?? (config.labels.length > 0 ? config.labels.length : 10);
  const modes = (a.modes ?? DEFAULT_MODES).map((mode): ModeCount => {
    const prepared = prepareViT(config, weights, { mode, numClasses, newHead: true, seed: 0 });
    const trainable = trainableCount(prepared);
    return { mode: prepared.mode, trainable, fraction: total > 0 ? trainable / total : 0 };
  });
  return { modelId: model.id, total, numClasses, modes };
}

/**
 * An ONNX model's modes, read from the file with the same helpers the run plan uses (onnx-plan.ts), so the default
 * set shown is the set a run without `trainable` trains. `modes` holds that default as `{kind: 'onnx', trainable}`
 * with its parameter count (a new head's when the logits layer's outputs are not `numClasses`).
 */
async function onnxModes(model: Model, numClasses: number | undefined): Promise<ModelModes> {
  const { findOutputLinear, listOnnxInitializers, onnxOutputClasses } =
    await import('../../engine/models/vit/onnx-import.ts');
  const bytes = await readFile(model.path).catch((error: unknown) => {
    throw new FlopsError('MODEL_MISSING', `model ${model.id} (${model.name}): ${(error as Error).message}`);
  });
  const inits = listOnnxInitializers(bytes, model.path);
  const linear = findOutputLinear(bytes, { file: model.path });
  let declared: number | undefined;
  try {
    declared = onnxOutputClasses(bytes, { file: model.path });
  } catch {
    declared = undefined;
  }
  const defaultTrainable = linear ? [linear.weight, ...(linear.bias ? [linear.bias] : [])] : [];
  const outputs = linear?.outDim ?? declared ?? null;
  const classes = numClasses ?? outputs ?? 0;
  const total = inits.reduce((s, i) => s + i.size, 0);
  const newHead = linear !== undefined && classes > 0 && linear.outDim !== classes;
  const initializers = inits.map((i): OnnxInitializerEntry => ({
    name: i.name,
    shape: i.shape,
    dtype: i.dtype,
    size: i.size,
    trainable: i.dtype === 'FLOAT',
    head: defaultTrainable.includes(i.name),
  }));
  const modes: ModeCount[] = [];
  if (linear) {
    const trainable = newHead
      ? linear.inDim * classes + (linear.bias ? classes : 0)
      : initializers.filter((i) => i.head).reduce((s, i) => s + i.size, 0);
    modes.push({
      mode: { kind: 'onnx', trainable: defaultTrainable },
      trainable,
      fraction: total > 0 ? trainable / total : 0,
    });
  }
  return {
    modelId: model.id,
    total,
    numClasses: classes,
    modes,
    onnx: { initializers, defaultTrainable, outputs, newHead },
  };
}
