// ViT weights under canonical HuggingFace ViTForImageClassification names ("vit.embeddings...", "classifier.*"),
// whichever class wrote the checkpoint. One naming inside the engine means trainable tensor names, FlatParams specs
// and exported files all agree; the checkpoint's own prefix ('vit.', '' for ViTModel, 'deit.') is mapped on load
// and restored on export.
import { join } from 'node:path';

import { ModelError } from '../../errors.ts';
import { readSafetensors, readSafetensorsHeader, type F32Tensor } from '../safetensors.ts';
import { numTokens, type ViTConfig } from './config.ts';

export type { F32Tensor };
/** Tensors by canonical name. */
export type ViTWeights = Map<string, F32Tensor>;

export const P = 'vit.';

/** Canonical names of block `i`'s tensors (HF layout; Linear weights are [out, in]). */
export function blockNames(i: number) {
  const l = `${P}encoder.layer.${i}.`;
  return {
    lnBeforeW: `${l}layernorm_before.weight`,
    lnBeforeB: `${l}layernorm_before.bias`,
    q: `${l}attention.attention.query`,
    k: `${l}attention.attention.key`,
    v: `${l}attention.attention.value`,
    o: `${l}attention.output.dense`,
    lnAfterW: `${l}layernorm_after.weight`,
    lnAfterB: `${l}layernorm_after.bias`,
    fc1: `${l}intermediate.dense`,
    fc2: `${l}output.dense`,
  };
}

export const EMB = {
  cls: `${P}embeddings.cls_token`,
  dist: `${P}embeddings.distillation_token`,
  pos: `${P}embeddings.position_embeddings`,
  patchW: `${P}embeddings.patch_embeddings.projection.weight`,
  patchB: `${P}embeddings.patch_embeddings.projection.bias`,
  lnW: `${P}layernorm.weight`,
  lnB: `${P}layernorm.bias`,
  headW: 'classifier.weight',
  headB: 'classifier.bias',
};

/**
 * Expected shapes of every backbone tensor, in forward order (embeddings, blocks, final LayerNorm). The classifier is
 * separate: its class count is not part of the backbone.
 */
export function backboneShapes(c: ViTConfig): Map<string, number[]> {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const m = new Map<string, number[]>();
  m.set(EMB.cls, [1, 1, H]);
  if (c.distillationToken) m.set(EMB.dist, [1, 1, H]);
  m.set(EMB.pos, [1, numTokens(c), H]);
  m.set(EMB.patchW, [H, c.numChannels, c.patchSize[0], c.patchSize[1]]);
  m.set(EMB.patchB, [H]);
  for (let i = 0; i < c.numLayers; i++) {
    const b = blockNames(i);
    m.set(b.lnBeforeW, [H]);
    m.set(b.lnBeforeB, [H]);
    for (const p of [b.q, b.k, b.v]) {
      m.set(`${p}.weight`, [H, H]);
      if (c.qkvBias) m.set(`${p}.bias`, [H]);
    }
    m.set(`${b.o}.weight`, [H, H]);
    m.set(`${b.o}.bias`, [H]);
    m.set(b.lnAfterW, [H]);
    m.set(b.lnAfterB, [H]);
    m.set(`${b.fc1}.weight`, [I, H]);
    m.set(`${b.fc1}.bias`, [I]);
    m.set(`${b.fc2}.weight`, [H, I]);
    m.set(`${b.fc2}.bias`, [H]);
  }
  m.set(EMB.lnW, [H]);
  m.set(EMB.lnB, [H]);
  return m;
}

export function headShapes(c: ViTConfig, numClasses: number): Map<string, number[]> {
  return new Map([
    [EMB.headW, [numClasses, c.hiddenSize]],
    [EMB.headB, [numClasses]],
  ]);
}

/** The prefix the checkpoint's class uses for backbone tensors. */
export function checkpointPrefix(c: ViTConfig): string {
  switch (c.architecture) {
    case 'ViTForImageClassification':
      return 'vit.';
    case 'DeiTForImageClassification':
      return 'deit.';
    default:
      return '';
  }
}

/** Canonical name → the name in a checkpoint written with `prefix`. */
export function toCheckpointName(name: string, prefix: string): string {
  return name.startsWith(P) ? prefix + name.slice(P.length) : name;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Checks that `weights` hold every backbone tensor (and the classifier when `numClasses` is given) with the shapes
 * the config implies. `file` names the source in errors.
 */
export function validateViTWeights(
  c: ViTConfig,
  weights: ViTWeights,
  file: string,
  numClasses?: number,
): void {
  const expected = backboneShapes(c);
  if (numClasses !== undefined) for (const [k, v] of headShapes(c, numClasses)) expected.set(k, v);
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) throw new ModelError(`${file}: missing tensor '${name}'`);
    if (!sameShape(t.shape, shape)) {
      throw new ModelError(
        `${file}: tensor '${name}' has shape [${t.shape.join(', ')}], config implies [${shape.join(', ')}]`,
      );
    }
  }
}

/**
 * Loads `dir/model.safetensors` for `c`: maps checkpoint names to canonical ones, reads only the tensors the graph
 * needs (a ViTModel pooler, for example, is skipped), and validates shapes. The prefix is probed rather than trusted
 * from `architectures`, because checkpoints saved from a wrapped model are common.
 */
export async function loadViTWeights(dir: string, c: ViTConfig): Promise<ViTWeights> {
  const file = join(dir, 'model.safetensors');
  const header = await readSafetensorsHeader(file);
  const present = new Set(header.entries.map((e) => e.name));
  const candidates = [checkpointPrefix(c), 'vit.', 'deit.', ''];
  const prefix = candidates.find((p) => present.has(`${p}embeddings.cls_token`));
  if (prefix === undefined)
    throw new ModelError(`${file}: missing tensor '${checkpointPrefix(c)}embeddings.cls_token'`);
  const wanted = [...backboneShapes(c).keys()];
  const hasHead = present.has(EMB.headW) && present.has(EMB.headB);
  if (hasHead) wanted.push(EMB.headW, EMB.headB);
  for (const name of wanted) {
    const ck = toCheckpointName(name, prefix);
    if (!present.has(ck)) throw new ModelError(`${file}: missing tensor '${ck}'`);
  }
  const raw = await readSafetensors(
    file,
    wanted.map((n) => toCheckpointName(n, prefix)),
  );
  const weights: ViTWeights = new Map();
  for (const name of wanted) weights.set(name, raw.get(toCheckpointName(name, prefix))!);
  const classes = hasHead ? weights.get(EMB.headB)!.shape[0] : undefined;
  try {
    validateViTWeights(c, weights, file, classes);
  } catch (e) {
    // Report the checkpoint's own tensor name, not our canonical one.
    if (e instanceof ModelError && prefix !== P) {
      throw new ModelError(e.message.replace(/'vit\.([^']*)'/, `'${prefix}$1'`));
    }
    throw e;
  }
  if (hasHead && c.labels.length > 0 && c.labels.length !== classes) {
    throw new ModelError(
      `${file}: classifier has ${classes} classes but config.json lists ${c.labels.length} labels`,
    );
  }
  return weights;
}
