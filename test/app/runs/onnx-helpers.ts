// What the imported-ONNX tests (onnx-cut, onnx-training, onnx-export, use-cases/model-modes) set up alike: an app
// workspace beside a temporary folder for the .onnx files they write, the bundled ViT and a small MLP as such files.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  BUNDLED_VIT_DIR,
  bundledViTOnnx,
  vitBlockMlpInitializers,
} from '../../../engine/models/vit/index.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import { Rng } from '../../../engine/rng.ts';
import { testWorkspace, type TestWorkspace } from './helpers.ts';

export interface OnnxWorkspace {
  ws: TestWorkspace;
  /** A temporary folder for the test's model files. */
  files: string;
  /** Disposes the workspace and removes the folder. */
  dispose(): Promise<void>;
}

/** A test workspace (helpers.ts) and a fresh folder `<tmp>/<prefix>…` for model files. */
export async function onnxWorkspace(prefix: string): Promise<OnnxWorkspace> {
  const ws = await testWorkspace();
  const files = mkdtempSync(join(tmpdir(), prefix));
  return {
    ws,
    files,
    dispose: async () => {
      await ws.dispose();
      rmSync(files, { recursive: true, force: true });
    },
  };
}

/** The MLP of the bundled ViT's last (fourth) block, by its initializer names in the exported file. */
export const LAST_MLP = vitBlockMlpInitializers(3);

/**
 * Writes the bundled ViT with a new 5-class head (engine bundledViTOnnx) to `<files>/vit/model.onnx` and returns the
 * path. With `preprocessorConfig` its preprocessor_config.json goes beside it, so runs normalise as the ViT was
 * trained; without, they normalise as the dataset's cache says.
 */
export async function writeBundledViTOnnx(
  files: string,
  opts: { preprocessorConfig: boolean },
): Promise<string> {
  const dir = join(files, 'vit');
  mkdirSync(dir);
  const file = join(dir, 'model.onnx');
  writeFileSync(file, (await bundledViTOnnx()).bytes);
  if (opts.preprocessorConfig) {
    copyFileSync(join(BUNDLED_VIT_DIR, 'preprocessor_config.json'), join(dir, 'preprocessor_config.json'));
  }
  return file;
}

/** 784 → 32 (ReLU) → 5, PyTorch-style Gemm layers (transB = 1), random weights: an untrained MLP classifier. */
export function mlpClassifier(seed: number): Uint8Array {
  const rng = new Rng(seed);
  const uniform = (n: number, limit: number) =>
    Float32Array.from({ length: n }, () => (2 * rng.nextFloat() - 1) * limit);
  const g = new GraphBuilder('mlp', 17);
  const x = g.input('image', 'float32', ['batch', 1, 28, 28]);
  const flat = g.op('Flatten', [x], { axis: 1 });
  const w1 = g.initializer('fc1.weight', uniform(32 * 784, Math.sqrt(6 / 784)), [32, 784]);
  const b1 = g.initializer('fc1.bias', new Float32Array(32), [32]);
  const h = g.op('Relu', [g.op('Gemm', [flat, w1, b1], { transB: 1 })]);
  const w2 = g.initializer('fc2.weight', uniform(5 * 32, Math.sqrt(6 / 37)), [5, 32]);
  const b2 = g.initializer('fc2.bias', new Float32Array(5), [5]);
  g.node('Gemm', [h, w2, b2], ['logits'], { transB: 1 });
  g.output('logits', 'float32', ['batch', 5]);
  return g.toBytes();
}
