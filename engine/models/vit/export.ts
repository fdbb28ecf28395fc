// Export of a fine-tuned ViT: a standalone ONNX classifier (every tensor an initializer, LoRA merged into the frozen
// weights, VPT prompts baked in) and an HF folder (config.json, preprocessor_config.json, model.safetensors) that
// transformers' ViTForImageClassification/DeiTForImageClassification loads. Users deploy without the workbench.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelError } from '../../errors.ts';
import { writeSafetensors, type F32Tensor } from '../safetensors.ts';
import { buildViTGraph, mergeLoraWeight } from './graph.ts';
import { PROMPTS, withTrainable, type PreparedViT } from './modes.ts';
import { backboneShapes, EMB, toCheckpointName } from './weights.ts';

/** Input name of exported ONNX models (the HF/optimum convention). */
export const EXPORT_INPUT = 'pixel_values';

/**
 * The fine-tuned model (`theta` in `p.trainable` order; p's current values when omitted) as standalone ONNX:
 * input `pixel_values` [batch, C, H, W] (normalised as preprocessor_config.json says), output `logits`.
 */
export function exportViTOnnx(p: PreparedViT, theta?: Float32Array): Uint8Array {
  const q = theta ? withTrainable(p, theta) : p;
  return buildViTGraph(q, {
    trainableAsInputs: false,
    mergeLora: true,
    withLoss: false,
    inputName: EXPORT_INPUT,
    flat: false,
  });
}

/** The backbone + head tensors of `p` with LoRA merged, under canonical names, in forward order. */
export function mergedTensors(p: PreparedViT, theta?: Float32Array): Map<string, F32Tensor> {
  const q = theta ? withTrainable(p, theta) : p;
  const out = new Map<string, F32Tensor>();
  const names = [...backboneShapes(q.config).keys(), EMB.headW, EMB.headB];
  for (const name of names) {
    const t = q.tensors.get(name);
    if (!t) throw new ModelError(`missing tensor '${name}'`);
    const base = name.slice(0, -'.weight'.length);
    const a = q.tensors.get(`${base}.lora_A.weight`);
    const b = q.tensors.get(`${base}.lora_B.weight`);
    if (name.endsWith('.weight') && a && b) {
      const [o, i] = t.shape as [number, number];
      out.set(name, {
        shape: t.shape,
        data: mergeLoraWeight(t.data, a.data, b.data, o, i, a.shape[0]!, q.loraScale),
      });
    } else {
      out.set(name, t);
    }
  }
  return out;
}

/**
 * Writes an HF checkpoint folder. VPT prompts have no place in HF's ViT classes, so a VPT model is refused here (its
 * ONNX export carries the prompts).
 */
export async function exportViTHf(p: PreparedViT, dir: string, theta?: Float32Array): Promise<void> {
  if (p.tensors.has(PROMPTS)) {
    throw new ModelError(
      'a VPT model cannot be written as an HF ViT checkpoint (no prompt tokens there); export ONNX instead',
    );
  }
  const c = p.config;
  const deit = c.modelType === 'deit';
  const architecture = deit ? 'DeiTForImageClassification' : 'ViTForImageClassification';
  const prefix = deit ? 'deit.' : 'vit.';
  await mkdir(dir, { recursive: true });
  const tensors = mergedTensors(p, theta);
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...tensors].map(([k, v]) => [toCheckpointName(k, prefix), v] as [string, F32Tensor]),
  );
  const config = {
    architectures: [architecture],
    model_type: c.modelType,
    image_size: c.imageSize[0] === c.imageSize[1] ? c.imageSize[0] : c.imageSize,
    patch_size: c.patchSize[0] === c.patchSize[1] ? c.patchSize[0] : c.patchSize,
    num_channels: c.numChannels,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    layer_norm_eps: c.layerNormEps,
    qkv_bias: c.qkvBias,
    encoder_stride: c.patchSize[0],
    id2label: Object.fromEntries(p.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(p.labels.map((l, i) => [l, i])),
    torch_dtype: 'float32',
  };
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const pre = c.preprocess;
  const preprocessor = {
    image_processor_type: 'ViTImageProcessor',
    do_resize: pre.doResize,
    size: { height: c.imageSize[0], width: c.imageSize[1] },
    do_rescale: pre.doRescale,
    rescale_factor: pre.rescaleFactor,
    do_normalize: pre.doNormalize,
    image_mean: pre.mean,
    image_std: pre.std,
  };
  await writeFile(join(dir, 'preprocessor_config.json'), `${JSON.stringify(preprocessor, null, 2)}\n`);
}
