// The bundled demo assets: a tiny ViT pretrained on Fashion-MNIST classes 0-4 (assets/models/vit-tiny-fmnist,
// made by tools/pretrain_vit.py) and a Fashion-MNIST subset of the held-out classes 5-9
// (assets/datasets/fashion-mnist-demo, made by tools/make-demo-dataset.ts). Registering them is idempotent.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadViTConfig } from '../engine/models/vit/index.ts';
import { importFolderDataset } from './datasets/use-cases.ts';
import { DEMO_PREPROCESS } from './datasets/preprocess.ts';
import { sha256Hex } from './db/checkpoints.ts';
import { getDatasetVersion, listDatasetVersions, type DatasetVersion } from './db/datasets.ts';
import { findModelsBySha256, saveModel, type Model } from './db/models.ts';
import type { Workspace } from './workspace.ts';

/** The assets folder: FLOPS_ASSETS_DIR in a packaged app (extraResources), else the checkout's assets/. */
export function assetsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLOPS_ASSETS_DIR ?? fileURLToPath(new URL('../assets', import.meta.url));
}
export const bundledDatasetDir = (): string => join(assetsDir(), 'datasets', 'fashion-mnist-demo');
export const bundledModelDir = (): string => join(assetsDir(), 'models', 'vit-tiny-fmnist');
/** Resolved once at load; prefer the functions where FLOPS_ASSETS_DIR may be set later. */
export const BUNDLED_DATASET_DIR = bundledDatasetDir();
export const BUNDLED_DATASET_NAME = 'fashion-mnist-demo';
export const BUNDLED_MODEL_NAME = 'vit-tiny-fmnist';

export async function ensureBundledModel(ws: Workspace): Promise<Model> {
  const modelDir = bundledModelDir();
  const weights = await readFile(join(modelDir, 'model.safetensors'));
  const sha256 = sha256Hex(weights);
  const existing = findModelsBySha256(ws.db, sha256).find((m) => m.path === modelDir);
  if (existing) return existing;
  const config = await loadViTConfig(modelDir);
  return saveModel(ws.db, {
    name: BUNDLED_MODEL_NAME,
    kind: 'hf-vit',
    path: modelDir,
    config,
    paramCounts: { total: (weights.length - 8) / 4 },
    sha256,
  });
}

export async function ensureBundledDataset(ws: Workspace): Promise<DatasetVersion> {
  const existing = listDatasetVersions(ws.db, BUNDLED_DATASET_NAME)[0];
  if (existing) return existing;
  const { version } = await importFolderDataset(ws, {
    path: bundledDatasetDir(),
    name: BUNDLED_DATASET_NAME,
    preprocess: DEMO_PREPROCESS,
  });
  return getDatasetVersion(ws.db, version.id) ?? version;
}
