// Public surface of the ViT model family: HF checkpoint folder → typed config + weights → trainable mode → ONNX
// graphs (full, or frozen prefix + trainable suffix) → export.
import { fileURLToPath } from 'node:url';

import { loadViTConfig, type ViTConfig } from './config.ts';
import { loadViTWeights, type ViTWeights } from './weights.ts';

export * from './config.ts';
export * from './weights.ts';
export * from './modes.ts';
export * from './graph.ts';
export * from './export.ts';
export * from './engine-graphs.ts';
export * from './onnx-import.ts';

/** The bundled demo backbone (tools/pretrain_vit.py; Fashion-MNIST classes 0-4). */
export const BUNDLED_VIT_DIR = fileURLToPath(
  new URL('../../../assets/models/vit-tiny-fmnist', import.meta.url),
);

/** Loads an HF ViT/DeiT folder: config.json, optional preprocessor_config.json, model.safetensors. */
export async function loadViT(dir: string): Promise<{ config: ViTConfig; weights: ViTWeights }> {
  const config = await loadViTConfig(dir);
  return { config, weights: await loadViTWeights(dir, config) };
}
