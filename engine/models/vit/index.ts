// Public surface of the ViT model family: HF checkpoint folder → typed config + weights → trainable mode → ONNX
// graphs (full, or frozen prefix + trainable suffix) → export.
import { fileURLToPath } from 'node:url';

import { loadViTConfig, type ViTConfig } from './config.ts';
import { exportViTOnnx } from './export.ts';
import { prepareViT } from './modes.ts';
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

/**
 * The bundled ViT with a new 5-class head (seed 0) as a standalone .onnx file (exportViTOnnx): a model to import
 * as a user would import any ONNX classifier, for the ONNX bench and the imported-model tests.
 */
export async function bundledViTOnnx(): Promise<{ config: ViTConfig; bytes: Uint8Array }> {
  const { config, weights } = await loadViT(BUNDLED_VIT_DIR);
  const prepared = prepareViT(config, weights, {
    mode: { kind: 'head' },
    numClasses: 5,
    newHead: true,
    seed: 0,
  });
  return { config, bytes: exportViTOnnx(prepared) };
}

/** The initializers of encoder block `layer`'s MLP in an exported ViT, as named in its ONNX file. */
export function vitBlockMlpInitializers(layer: number): string[] {
  return [
    'intermediate.dense.weight_t',
    'intermediate.dense.bias',
    'output.dense.weight_t',
    'output.dense.bias',
  ].map((t) => `vit.encoder.layer.${layer}.${t}`);
}
