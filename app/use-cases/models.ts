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
import { getModel, listModels as listStoredModels, saveModel, type Model } from '../db/models.ts';
import { trainModeSchema } from '../runs/spec.ts';
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
      sha256: createHash('sha256').update(bytes).digest('hex'),
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
  mode: TrainMode;
  trainable: number;
  /** trainable / total. */
  fraction: number;
}

export interface ModelModes {
  modelId: number;
  total: number;
  numClasses: number;
  modes: ModeCount[];
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
