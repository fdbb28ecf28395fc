// Trainable modes: which tensors of a ViT are trained (graph inputs, one FlatParams vector) and which stay frozen
// (initializers). Extra tensors a mode introduces (a new head, LoRA factors, prompt tokens) are created here with a
// seeded init, so a run is reproducible from (checkpoint, mode, seed).
import { ModelError } from '../../errors.ts';
import { numTokens, type ViTConfig } from './config.ts';
import { backboneShapes, blockNames, EMB, headShapes, P, type ViTWeights } from './weights.ts';

export type LoraTarget = 'q' | 'k' | 'v' | 'o';

export type TrainMode =
  /** The classifier only (the paper's default for LR, §4.3). */
  | { kind: 'head' }
  /** Every bias and LayerNorm affine parameter, plus the head. */
  | { kind: 'bitfit' }
  /** Low-rank adapters ΔW = (alpha/rank)·B·A on the chosen attention projections of the last `lastK` blocks (all when
   * omitted), plus the head. A starts uniform ±1/√in, B at zero, so training starts at the checkpoint's function. */
  | { kind: 'lora'; rank: number; alpha: number; targets?: LoraTarget[]; lastK?: number }
  /** VPT-shallow: `prompts` learned tokens inserted after CLS at the encoder input (after position embeddings), plus
   * the head. */
  | { kind: 'vpt'; prompts: number }
  /** The last k encoder blocks, the final LayerNorm and the head. */
  | { kind: 'last-k'; k: number }
  /** Everything (small models only: SPSA variance grows with the dimension). */
  | { kind: 'full' };

export type TrainModeKind = TrainMode['kind'];

/** Same shape as engine/params.ts's TensorSpec, so `new FlatParams(prepared.trainable, theta0)` works directly. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

export interface PrepareOptions {
  mode: TrainMode;
  /** Classes of the head to train. A new head is created when this differs from the checkpoint's (or it has none). */
  numClasses?: number;
  /** Class names for the new head (default LABEL_i). */
  labels?: string[];
  /** Force a fresh head even when the class count matches (fine-tuning on a different label set). */
  newHead?: boolean;
  /** Seed of every new tensor's init. */
  seed?: number;
  /** Train the head along with the mode's tensors (default true; the head is new in most fine-tuning). */
  trainHead?: boolean;
}

/** A checkpoint made ready for one trainable mode. */
export interface PreparedViT {
  config: ViTConfig;
  mode: TrainMode;
  numClasses: number;
  labels: string[];
  /** Every tensor the graph uses (backbone, head, mode extras) by canonical name, in forward order. */
  tensors: ViTWeights;
  /** The trained tensors, in forward order: the layout of theta (FlatParams order). */
  trainable: TensorSpec[];
  /** LoRA scale alpha/rank (0 when not LoRA). */
  loraScale: number;
  /** Number of VPT prompt tokens (0 when not VPT). */
  prompts: number;
}

export const PROMPTS = `${P}embeddings.prompt_embeddings`;
export const LORA_TARGETS: Record<LoraTarget, keyof ReturnType<typeof blockNames>> = {
  q: 'q',
  k: 'k',
  v: 'v',
  o: 'o',
};

// --- seeded init -----------------------------------------------------------------------------------------------
// A tiny local generator (splitmix32 stream + Box-Muller): each tensor's init is seeded from (seed, its name), so
// adding a tensor to a mode never changes another tensor's init.

function hashName(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** N(0, std²) truncated at ±2 std (HF's ViT init for linear weights and embeddings). */
export function truncNormal(n: number, std: number, seed: number, name: string): Float32Array {
  const u = splitmix32(hashName(seed, name));
  const out = new Float32Array(n);
  for (let i = 0; i < n;) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const t = 2 * Math.PI * u();
    for (const z of [r * Math.cos(t), r * Math.sin(t)]) if (i < n && Math.abs(z) <= 2) out[i++] = z * std;
  }
  return out;
}

function uniform(n: number, bound: number, seed: number, name: string): Float32Array {
  const u = splitmix32(hashName(seed, name));
  return Float32Array.from({ length: n }, () => (2 * u() - 1) * bound);
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

// --- mode → trainable set ------------------------------------------------------------------------------------------

/** Which stage a tensor belongs to: 0 embeddings, 1..L block i-1 (prompts enter at block 0), L+1 final LN, L+2 head. */
export function stageOf(c: ViTConfig, name: string): number {
  if (name === PROMPTS) return 1;
  const m = /^vit\.encoder\.layer\.(\d+)\./.exec(name);
  if (m) return Number(m[1]) + 1;
  if (name === EMB.lnW || name === EMB.lnB) return c.numLayers + 1;
  if (name === EMB.headW || name === EMB.headB) return c.numLayers + 2;
  return 0;
}

function validateMode(c: ViTConfig, mode: TrainMode): void {
  const bad = (msg: string) => new ModelError(`trainable mode '${mode.kind}': ${msg}`);
  switch (mode.kind) {
    case 'lora': {
      if (!Number.isInteger(mode.rank) || mode.rank < 1)
        throw bad(`rank must be a positive integer, got ${mode.rank}`);
      if (!(mode.alpha > 0)) throw bad(`alpha must be positive, got ${mode.alpha}`);
      const k = mode.lastK ?? c.numLayers;
      if (!Number.isInteger(k) || k < 1 || k > c.numLayers)
        throw bad(`lastK must be 1..${c.numLayers}, got ${k}`);
      const t = mode.targets ?? ['q', 'v'];
      if (t.length === 0 || t.some((x) => !(x in LORA_TARGETS)))
        throw bad(`targets must be a non-empty subset of q, k, v, o`);
      break;
    }
    case 'vpt':
      if (!Number.isInteger(mode.prompts) || mode.prompts < 1)
        throw bad(`prompts must be a positive integer`);
      break;
    case 'last-k':
      if (!Number.isInteger(mode.k) || mode.k < 0 || mode.k > c.numLayers)
        throw bad(`k must be 0..${c.numLayers}`);
      break;
    case 'head':
    case 'bitfit':
    case 'full':
      break;
    default:
      throw new ModelError(`unknown trainable mode ${JSON.stringify((mode as { kind: unknown }).kind)}`);
  }
}

/**
 * Builds the tensor set for `opts.mode`: copies references to the checkpoint's frozen tensors (no copy of data),
 * adds the head (checkpoint's or new) and the mode's extra tensors, and lists the trainable ones in forward order.
 */
export function prepareViT(config: ViTConfig, weights: ViTWeights, opts: PrepareOptions): PreparedViT {
  const { mode } = opts;
  validateMode(config, mode);
  const seed = opts.seed ?? 0;
  const L = config.numLayers;
  const ckClasses = weights.get(EMB.headB)?.shape[0];
  const numClasses = opts.numClasses ?? ckClasses;
  if (numClasses === undefined) {
    throw new ModelError(
      'the checkpoint has no classifier (ViTModel/DeiTModel): pass numClasses for a new head',
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new ModelError(`numClasses must be ≥ 1, got ${numClasses}`);
  const fresh = opts.newHead === true || ckClasses !== numClasses;
  const labels =
    opts.labels ??
    (!fresh && config.labels.length === numClasses
      ? config.labels
      : Array.from({ length: numClasses }, (_, i) => `LABEL_${i}`));
  if (labels.length !== numClasses)
    throw new ModelError(`${labels.length} labels given for ${numClasses} classes`);

  const tensors: ViTWeights = new Map();
  const take = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new ModelError(`missing tensor '${name}'`);
    tensors.set(name, t);
  };
  const shapes = backboneShapes(config);
  const loraK = mode.kind === 'lora' ? (mode.lastK ?? L) : 0;
  const loraTargets = new Set(mode.kind === 'lora' ? (mode.targets ?? ['q', 'v']) : []);
  const rank = mode.kind === 'lora' ? mode.rank : 0;
  const H = config.hiddenSize;
  // Forward order: embeddings, prompts, blocks (with their adapters), final LN, head.
  for (const name of shapes.keys()) {
    const block = /^vit\.encoder\.layer\.(\d+)\.layernorm_before\.weight$/.exec(name);
    if (block && Number(block[1]) === 0 && mode.kind === 'vpt') {
      // Prompt init: VPT's uniform ±√(6 / (patch_area·C + H)) (Jia et al. 2022, Xavier on the patch projection).
      const fan = config.patchSize[0] * config.patchSize[1] * config.numChannels + H;
      const shape = [1, mode.prompts, H];
      tensors.set(PROMPTS, { shape, data: uniform(size(shape), Math.sqrt(6 / fan), seed, PROMPTS) });
    }
    take(name);
    const lin =
      /^(vit\.encoder\.layer\.(\d+)\.attention\.(?:attention\.(?:query|key|value)|output\.dense))\.weight$/.exec(
        name,
      );
    if (lin && rank > 0 && Number(lin[2]) >= L - loraK) {
      const b = blockNames(Number(lin[2]));
      const which = (['q', 'k', 'v', 'o'] as const).find((t) => b[t] === lin[1])!;
      if (loraTargets.has(which)) {
        // Keep the bias (added by the graph after the weight) before the adapters in forward order.
        const bias = `${lin[1]}.bias`;
        if (shapes.has(bias)) take(bias);
        const a = `${lin[1]}.lora_A.weight`;
        tensors.set(a, { shape: [rank, H], data: uniform(rank * H, 1 / Math.sqrt(H), seed, a) });
        tensors.set(`${lin[1]}.lora_B.weight`, { shape: [H, rank], data: new Float32Array(H * rank) });
      }
    }
  }
  for (const [name, shape] of headShapes(config, numClasses)) {
    if (!fresh) take(name);
    else
      tensors.set(name, {
        shape,
        data: name === EMB.headW ? truncNormal(size(shape), 0.02, seed, name) : new Float32Array(size(shape)),
      });
  }

  const trainHead = opts.trainHead ?? true;
  const isHead = (n: string) => n === EMB.headW || n === EMB.headB;
  const isTrained = (n: string): boolean => {
    if (isHead(n)) return trainHead;
    switch (mode.kind) {
      case 'head':
        return false;
      case 'bitfit':
        return n.endsWith('.bias') || /layernorm(_before|_after)?\.weight$/.test(n);
      case 'lora':
        return n.includes('.lora_A.') || n.includes('.lora_B.');
      case 'vpt':
        return n === PROMPTS;
      case 'last-k': {
        const s = stageOf(config, n);
        return s > L - mode.k && s <= L + 1;
      }
      case 'full':
        return true;
    }
  };
  const trainable = [...tensors]
    .filter(([n]) => isTrained(n))
    .map(([name, t]) => ({ name, shape: t.shape.slice() }));
  if (trainable.length === 0) throw new ModelError(`trainable mode '${mode.kind}' trains no tensor`);
  return {
    config,
    mode,
    numClasses,
    labels,
    tensors,
    trainable,
    loraScale: mode.kind === 'lora' ? mode.alpha / mode.rank : 0,
    prompts: mode.kind === 'vpt' ? mode.prompts : 0,
  };
}

/** Trainable parameter count. */
export function trainableCount(p: PreparedViT): number {
  return p.trainable.reduce((a, s) => a + size(s.shape), 0);
}

/** The current values of the trainable tensors as one vector in `trainable` order (theta0 of a run). */
export function gatherTrainable(p: PreparedViT): Float32Array {
  const out = new Float32Array(trainableCount(p));
  let off = 0;
  for (const s of p.trainable) {
    out.set(p.tensors.get(s.name)!.data, off);
    off += size(s.shape);
  }
  return out;
}

/**
 * A copy of `p` whose trainable tensors hold `theta` (e.g. the end of a run), for export. Frozen tensors are shared,
 * not copied.
 */
export function withTrainable(p: PreparedViT, theta: Float32Array): PreparedViT {
  const n = trainableCount(p);
  if (theta.length !== n) throw new ModelError(`theta has ${theta.length} values, the mode trains ${n}`);
  const tensors: ViTWeights = new Map(p.tensors);
  let off = 0;
  for (const s of p.trainable) {
    const k = size(s.shape);
    tensors.set(s.name, { shape: s.shape.slice(), data: theta.slice(off, off + k) });
    off += k;
  }
  return { ...p, tensors };
}

/** Tokens through the encoder blocks (prompts included). */
export function encoderTokens(p: PreparedViT): number {
  return numTokens(p.config) + p.prompts;
}
