// ViT → ONNX (opset 17) with GraphBuilder. One builder emits the whole network as stages, so the same code yields
// the full training graph, the frozen prefix, the trainable suffix and the export graph:
//
//   stage 0        patch embedding (Conv), CLS (+ DeiT distillation token), position embeddings
//   stage 1..L     encoder block i-1 (pre-LN attention + MLP); VPT prompts are inserted at the start of stage 1
//   stage L+1      final LayerNorm, CLS token → features [batch, H]
//   stage L+2      classifier → logits, per-row cross-entropy (reduction none) → loss
//
// Trainable tensors become graph inputs named after the tensor (FlatParams order); frozen ones are initializers.
// Training graphs follow the engine's classifier contract (engine/models/types.ts, OnnxOracle): x [rows, C·H·W]
// flat, y int64 [rows] → loss [rows], logits [rows, classes]; values crossing a split are flat too ([rows, T·H] or
// [rows, H]) so a suffix is just another classifier over cached rows. Export graphs take NCHW `pixel_values`.
// Frozen Linear weights are stored pre-transposed ([in, out]) so no Transpose runs per call; trainable ones keep the
// HF [out, in] layout (so theta maps 1:1 onto the checkpoint) and get a Transpose node, which is cheap at these sizes.
import { GraphBuilder, type Dim } from '../../onnx/graph.ts';
import {
  expandToBatch,
  geluErf,
  layerNorm,
  linear,
  reshape,
  sliceAxis,
  takeIndex,
  transpose,
} from '../../onnx/ops.ts';
import { ConfigError, ModelError } from '../../errors.ts';
import { perRowCrossEntropy } from '../layers.ts';
import { numTokens } from './config.ts';
import { encoderTokens, PROMPTS, stageOf, type PreparedViT } from './modes.ts';
import { blockNames, EMB } from './weights.ts';

export interface ViTGraphOptions {
  /** Which stages to emit: the full graph, or the prefix/suffix of a split at `cut` (a stage index). */
  part?: 'full' | 'prefix' | 'suffix';
  /** Stage where the suffix starts (default: the first stage holding a trainable tensor, see defaultCut). */
  cut?: number;
  /** false bakes every tensor in as an initializer (export). Default true. */
  trainableAsInputs?: boolean;
  /** Fold LoRA into the frozen weights (W + s·B·A) instead of computing the adapter path. Default: !trainableAsInputs. */
  mergeLora?: boolean;
  /** Emit the per-row loss (needs the label input). Default true. */
  withLoss?: boolean;
  /** Name of the image input. Default 'x' (the engine's convention; export uses 'pixel_values'). */
  inputName?: string;
  /** Name of the label input (int64 [batch]). Default 'y'. */
  labelName?: string;
  /** Image and cut values as flat rows (default true, the engine's oracle contract); false takes NCHW images and
   * [batch, T, H] hidden states. */
  flat?: boolean;
  /**
   * LR (§2.1) beyond the head: every linear layer whose weight is trainable gets an input `noise:<layer>` (σ·ε,
   * flat [rows, T·out], zeros for a clean pass) added to its output, and outputs its input `act:<layer>`
   * ([rows, T·in]). Row-major, [rows, T·m] is [rows·T, m], so the gradient Σ c ε aᵀ is one Cᵀ·A over rows·T.
   */
  lrNoise?: boolean;
}

/**
 * One LR noise site of a graph built with `lrNoise`, in graph order: noise σ·ε enters at `noiseName` and the
 * trained tensors it reaches get ĝ from (ℓ − b)·ε and, for a weight, the site's input at `actName`.
 */
export interface LrLayerIo {
  /** Site name, e.g. 'classifier', 'vit.encoder.layer.3.attention.attention.query' or '….query.lora_A'. */
  layer: string;
  noiseName: string;
  /** Output holding the site's input [rows, tokens·in]; sites reading the same value share one (q, k, v read one
   * LayerNorm output). '' when the site trains no weight and so needs no input. */
  actName: string;
  /** Tokens per row the site sees (1 for the head and the CLS feature). */
  tokens: number;
  out: number;
  in: number;
  /** The trained weight: [out, in] of a linear map, or with `diagonal` a LayerNorm gain γ [out] (input = n̂). */
  weight?: string;
  diagonal?: boolean;
  /** The trained shift of `out` values added at every token: a bias, a LayerNorm β, or the VPT prompts (tokens 1,
   * out = prompts·H). */
  bias?: string;
}

/** Names of the values that cross a split. */
export const HIDDEN = 'hidden';
export const FEATURES = 'features';

/** The earliest stage holding a trainable tensor: everything before it is a frozen prefix. */
export function defaultCut(p: PreparedViT): number {
  return Math.min(...p.trainable.map((s) => stageOf(p.config, s.name)));
}

/**
 * The value at the start of stage `cut` (what the prefix outputs and the suffix takes): its name, its unflattened
 * shape, and its width per row (T·H or H) as it crosses a flat split.
 */
export function cutValue(p: PreparedViT, cut: number): { name: string; shape: Dim[]; width: number } {
  const L = p.config.numLayers;
  const H = p.config.hiddenSize;
  if (!Number.isInteger(cut) || cut <= 0 || cut > L + 2) {
    throw new ModelError(`cut must be a stage in 1..${L + 2}, got ${cut}`);
  }
  if (cut === L + 2) return { name: FEATURES, shape: ['batch', H], width: H };
  // Before stage 1 the prompts are not inserted yet.
  const T = cut === 1 ? numTokens(p.config) : encoderTokens(p);
  return { name: HIDDEN, shape: ['batch', T, H], width: T * H };
}

function transposed(t: { shape: number[]; data: Float32Array }): Float32Array {
  const [o, i] = t.shape as [number, number];
  const out = new Float32Array(o * i);
  for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[c * o + r] = t.data[r * i + c]!;
  return out;
}

/** W + scale·B·A for [out, in] W, [out, r] B, [r, in] A. */
export function mergeLoraWeight(
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  out: number,
  inn: number,
  rank: number,
  scale: number,
): Float32Array {
  const m = Float32Array.from(w);
  for (let r = 0; r < out; r++) {
    for (let k = 0; k < rank; k++) {
      const s = scale * b[r * rank + k]!;
      if (s === 0) continue;
      for (let c = 0; c < inn; c++) m[r * inn + c]! += s * a[k * inn + c]!;
    }
  }
  return m;
}

/** Builds one ViT graph (see the file header). Returns the serialized ONNX model. */
export function buildViTGraph(p: PreparedViT, opts: ViTGraphOptions = {}): Uint8Array {
  return buildViTGraphBuilder(p, opts).toBytes();
}

export function buildViTGraphBuilder(p: PreparedViT, opts: ViTGraphOptions = {}): GraphBuilder {
  return buildInternal(p, opts).g;
}

/** The LR layer list of a graph built with `lrNoise` (same options), without serializing it. */
export function lrLayers(p: PreparedViT, opts: ViTGraphOptions = {}): LrLayerIo[] {
  return buildInternal(p, { ...opts, lrNoise: true }).lr;
}

function buildInternal(p: PreparedViT, opts: ViTGraphOptions): { g: GraphBuilder; lr: LrLayerIo[] } {
  const c = p.config;
  const L = c.numLayers;
  const H = c.hiddenSize;
  const nh = c.numHeads;
  const d = H / nh;
  const part = opts.part ?? 'full';
  const asInputs = opts.trainableAsInputs ?? true;
  const mergeLora = opts.mergeLora ?? !asInputs;
  const withLoss = opts.withLoss ?? true;
  const flat = opts.flat ?? true;
  const lrNoise = opts.lrNoise ?? false;
  const lr: LrLayerIo[] = [];
  const cut = part === 'full' ? 0 : (opts.cut ?? defaultCut(p));
  if (part !== 'full') {
    cutValue(p, cut); // validates the range
    const early = p.trainable.find((s) => stageOf(c, s.name) < cut);
    if (asInputs && early) {
      throw new ModelError(
        `cannot cut at stage ${cut}: trainable tensor '${early.name}' lies in the frozen prefix`,
      );
    }
  }
  const first = part === 'suffix' ? cut : 0;
  const last = part === 'prefix' ? cut - 1 : L + 2;
  const g = new GraphBuilder(`vit-${p.mode.kind}-${part}`, 17);
  const trainable = new Set(p.trainable.map((s) => s.name));

  // Trainable inputs are declared up front, in FlatParams order, so the input list reads like theta's layout.
  if (asInputs) {
    for (const s of p.trainable) {
      if (stageOf(c, s.name) >= first && stageOf(c, s.name) <= last) g.input(s.name, 'float32', s.shape);
    }
  }
  const isInput = (name: string) => asInputs && trainable.has(name);
  const tensor = (name: string) => {
    const t = p.tensors.get(name);
    if (!t) throw new ModelError(`missing tensor '${name}'`);
    return t;
  };
  /** The value name of a tensor used as-is: its input, or an initializer under its own name. */
  const param = (name: string): string =>
    isInput(name) ? name : g.initializer(name, tensor(name).data, tensor(name).shape);

  /** Linear layer `base` (HF [out, in] weight), with a LoRA path when the mode attached adapters to it. */
  const dense = (x: string, base: string): string => {
    const wName = `${base}.weight`;
    const bName = `${base}.bias`;
    const aName = `${base}.lora_A.weight`;
    const hasLora = p.tensors.has(aName);
    const b = p.tensors.has(bName) ? param(bName) : undefined;
    const w = tensor(wName);
    const [out, inn] = w.shape as [number, number];
    const tokens = base === 'classifier' ? 1 : tokensAt;
    // The head sees [rows, in]; block linears [rows, T, in].
    const shapeOf = (m: number) => (base === 'classifier' ? null : [0, tokens, m]);
    const bias = isInput(bName) ? { bias: bName } : {};
    if (isInput(wName)) {
      const y = linear(g, x, transpose(g, wName, [1, 0]), b);
      if (!lrNoise) return y;
      return site(y, { layer: base, tokens, out, in: inn, weight: wName, ...bias }, shapeOf(out), x);
    }
    if (hasLora && mergeLora) {
      const A = tensor(aName);
      const B = tensor(`${base}.lora_B.weight`);
      const merged = mergeLoraWeight(w.data, A.data, B.data, out, inn, A.shape[0]!, p.loraScale);
      return linear(
        g,
        x,
        g.initializer(`${wName}.merged_t`, transposed({ shape: [out, inn], data: merged }), [inn, out]),
        b,
      );
    }
    let y = linear(g, x, g.initializer(`${wName}_t`, transposed(w), [inn, out]), b);
    // A trained bias behind a frozen weight (BitFit): noise at the output reaches the bias alone.
    if (lrNoise && isInput(bName)) y = site(y, { layer: base, tokens, out, in: 0, ...bias }, shapeOf(out));
    if (!hasLora) return y;
    const bName2 = `${base}.lora_B.weight`;
    const rank = tensor(aName).shape[0]!;
    const aT = isInput(aName)
      ? transpose(g, aName, [1, 0])
      : g.initializer(`${aName}_t`, transposed(tensor(aName)), [inn, rank]);
    const bT = isInput(bName2)
      ? transpose(g, bName2, [1, 0])
      : g.initializer(`${bName2}_t`, transposed(tensor(bName2)), [rank, out]);
    // LR on the adapter: u = A·x and z = B·u are linear maps of their own, so noise at u reaches A (input x) and
    // noise at z, before the scale α/r, reaches B (input the noisy u); ĝ_B needs no α/r because z is B's own
    // output. The effective noise on the layer output is then (α/r)·σ.
    let u = g.op('MatMul', [x, aT]);
    if (lrNoise && isInput(aName)) {
      u = site(u, { layer: `${base}.lora_A`, tokens, out: rank, in: inn, weight: aName }, shapeOf(rank), x);
    }
    let z = g.op('MatMul', [u, bT]);
    if (lrNoise && isInput(bName2)) {
      z = site(z, { layer: `${base}.lora_B`, tokens, out, in: rank, weight: bName2 }, shapeOf(out), u);
    }
    return g.op('Add', [y, g.op('Mul', [z, g.constFloat([p.loraScale], [], 'lora_scale')])]);
  };

  /** LayerNorm with LR at its output when γ or β is trained: ĝ_γ = Σ c ε ⊙ n̂ (n̂ = LN(x, 1, 0)), ĝ_β = Σ c ε. */
  const norm = (x: string, wName: string, bName: string, layer: string): string => {
    const y = layerNorm(g, x, param(wName), param(bName), c.layerNormEps);
    if (!lrNoise || (!isInput(wName) && !isInput(bName))) return y;
    // n̂ by a second, affine-free LayerNorm rather than (y − β)/γ, which divides by γ; y itself stays the plain
    // graph's value, so zero noise reproduces it exactly.
    const nHat = isInput(wName)
      ? layerNorm(
          g,
          x,
          g.constFloat(new Array<number>(H).fill(1), [H], 'ln_one'),
          g.constFloat(new Array<number>(H).fill(0), [H], 'ln_zero'),
          c.layerNormEps,
        )
      : undefined;
    const gain = isInput(wName) ? { weight: wName, diagonal: true, in: H } : { in: 0 };
    const bias = isInput(bName) ? { bias: bName } : {};
    // The final LayerNorm runs on the CLS feature [rows, H]; block ones on [rows, T, H].
    const shape = tokensAt === 1 ? null : [0, tokensAt, H];
    return site(y, { layer, tokens: tokensAt, out: H, ...gain, ...bias }, shape, nHat);
  };

  /**
   * LR noise site: h̃ = h + noise, where `noise:<layer>` is flat [rows, tokens·out] (σ·ε; zeros for a clean pass),
   * reshaped to `shape` for values with a token axis (null: h is [rows, out]), and the site's input `act` as an output
   * [rows, tokens·in] (once per value: sites reading the same value share it).
   */
  const site = (
    h: string,
    s: Omit<LrLayerIo, 'noiseName' | 'actName'>,
    shape: number[] | null,
    act?: string,
  ): string => {
    const noiseName = `noise:${s.layer}`;
    g.input(noiseName, 'float32', ['batch', s.tokens * s.out]);
    const noise = shape ? reshape(g, noiseName, shape) : noiseName;
    let actName = '';
    if (act !== undefined) {
      actName = actOf.get(act) ?? `act:${s.layer}`;
      if (!actOf.has(act)) {
        // A Reshape that names the output itself: an Identity into a graph output here trips an ORT optimizer pass
        // ("Node input ... is not a graph input") when its source also feeds the MatMul.
        g.node('Reshape', [act, g.constInt64([0, s.tokens * s.in], 'shape')], [actName]);
        g.output(actName, 'float32', ['batch', s.tokens * s.in]);
        actOf.set(act, actName);
      }
    }
    lr.push({ ...s, noiseName, actName });
    return g.op('Add', [h, noise]);
  };
  const actOf = new Map<string, string>();
  let tokensAt = 0;

  // --- entry value ---
  let v: string;
  const inputName = opts.inputName ?? 'x';
  const T0 = numTokens(c);
  if (first === 0) {
    const nchw = [c.numChannels, c.imageSize[0], c.imageSize[1]];
    if (flat) {
      v = reshape(g, g.input(inputName, 'float32', ['batch', nchw.reduce((a, b) => a * b, 1)]), [
        -1,
        ...nchw,
      ]);
    } else {
      v = g.input(inputName, 'float32', ['batch', ...nchw]);
    }
  } else {
    const cv = cutValue(p, first);
    if (flat && cv.name === HIDDEN) {
      const [, t, h] = cv.shape as [string, number, number];
      v = reshape(g, g.input(cv.name, 'float32', ['batch', t * h]), [-1, t, h]);
    } else {
      v = g.input(cv.name, 'float32', cv.shape);
    }
  }

  for (let s = first; s <= last; s++) {
    if (s === 0) {
      // Patch embedding: a Conv with stride = kernel = patch, then [b, H, gh, gw] → [b, N, H].
      const conv = g.op('Conv', [v, param(EMB.patchW), param(EMB.patchB)], {
        kernel_shape: c.patchSize,
        strides: c.patchSize,
      });
      let patches = transpose(g, reshape(g, conv, [0, H, -1]), [0, 2, 1]);
      if (lrNoise && isInput(EMB.patchB) && !isInput(EMB.patchW)) {
        // BitFit's patch-embedding bias: noise on every patch token reaches it (ĝ = Σ over rows and patches).
        const n = (c.imageSize[0] / c.patchSize[0]) * (c.imageSize[1] / c.patchSize[1]);
        const layer = EMB.patchB.replace(/\.bias$/, '');
        patches = site(patches, { layer, tokens: n, out: H, in: 0, bias: EMB.patchB }, [0, n, H]);
      }
      const lead = [expandToBatch(g, param(EMB.cls), patches, [1, H])];
      if (c.distillationToken) lead.push(expandToBatch(g, param(EMB.dist), patches, [1, H]));
      v = g.op('Add', [g.op('Concat', [...lead, patches], { axis: 1 }), param(EMB.pos)]);
    } else if (s <= L) {
      if (s === 1 && p.prompts > 0) {
        // VPT-shallow: prompts go after CLS (and the distillation token), after position embeddings.
        const nLead = T0 - (c.imageSize[0] / c.patchSize[0]) * (c.imageSize[1] / c.patchSize[1]);
        let prompts = expandToBatch(g, param(PROMPTS), v, [p.prompts, H]);
        if (lrNoise && isInput(PROMPTS)) {
          // The prompts are a per-token shift of the encoder input: one site of prompts·H values per row.
          const s = { layer: PROMPTS, tokens: 1, out: p.prompts * H, in: 0, bias: PROMPTS };
          prompts = site(prompts, s, [0, p.prompts, H]);
        }
        v = g.op('Concat', [sliceAxis(g, v, 1, 0, nLead), prompts, sliceAxis(g, v, 1, nLead, T0)], {
          axis: 1,
        });
      }
      tokensAt = encoderTokens(p);
      v = block(s - 1, v);
    } else if (s === L + 1) {
      // Only the CLS token leaves the final LayerNorm, so LR noise there goes on the CLS feature alone.
      tokensAt = 1;
      v = takeIndex(g, v, 1, 0);
      v = norm(v, EMB.lnW, EMB.lnB, EMB.lnW.replace(/\.weight$/, ''));
    } else {
      const logits = dense(v, 'classifier');
      g.output(logits, 'float32', ['batch', p.numClasses], 'logits');
      if (withLoss) {
        const y = g.input(opts.labelName ?? 'y', 'int64', ['batch']);
        perRowCrossEntropy(g, logits, y, 'loss');
        g.output('loss', 'float32', ['batch']);
      }
    }
  }
  if (part === 'prefix') {
    const cv = cutValue(p, cut);
    if (flat && cv.name === HIDDEN) {
      const [, t, h] = cv.shape as [string, number, number];
      g.output(reshape(g, v, [0, t * h]), 'float32', ['batch', t * h], cv.name);
    } else {
      g.output(v, 'float32', cv.shape, cv.name);
    }
  }
  if (lrNoise) checkLrReach(p, lr, first, last, asInputs);
  return { g, lr };

  function block(i: number, x: string): string {
    const b = blockNames(i);
    const h = norm(x, b.lnBeforeW, b.lnBeforeB, b.lnBeforeW.replace(/\.weight$/, ''));
    // Heads: [b, T, H] → [b, nh, T, d]; keys straight to [b, nh, d, T] so scores need no extra transpose.
    const split = (t: string, perm: number[]) => transpose(g, reshape(g, t, [0, 0, nh, d]), perm);
    // Scaling q by 1/√d before the product equals HF's scaling of the scores and touches T·d, not T², values.
    const q = g.op('Mul', [
      split(dense(h, b.q), [0, 2, 1, 3]),
      g.constFloat([1 / Math.sqrt(d)], [], 'attn_scale'),
    ]);
    const k = split(dense(h, b.k), [0, 2, 3, 1]);
    const val = split(dense(h, b.v), [0, 2, 1, 3]);
    const attn = g.op('Softmax', [g.op('MatMul', [q, k])], { axis: -1 });
    const ctx = reshape(g, transpose(g, g.op('MatMul', [attn, val]), [0, 2, 1, 3]), [0, 0, H]);
    const x1 = g.op('Add', [x, dense(ctx, b.o)]);
    const h2 = norm(x1, b.lnAfterW, b.lnAfterB, b.lnAfterW.replace(/\.weight$/, ''));
    return g.op('Add', [x1, dense(geluErf(g, dense(h2, b.fc1)), b.fc2)]);
  }
}

/**
 * Every trainable tensor of the emitted stages must be reached by an LR noise site: one that none reaches would get
 * a zero gradient forever, so it is refused instead. Today that is the patch-embedding weight, the CLS/distillation
 * tokens and the position embeddings ('full' mode): SPSA trains those.
 */
function checkLrReach(p: PreparedViT, lr: LrLayerIo[], first: number, last: number, asInputs: boolean): void {
  if (!asInputs) return;
  const reached = new Set(lr.flatMap((s) => [s.weight, s.bias]));
  const missed = p.trainable
    .filter((s) => stageOf(p.config, s.name) >= first && stageOf(p.config, s.name) <= last)
    .filter((s) => !reached.has(s.name))
    .map((s) => `'${s.name}'`);
  if (missed.length > 0) {
    throw new ConfigError(
      'estimator',
      `LR cannot reach ${missed.join(', ')} in trainable mode '${p.mode.kind}': noise enters only at linear, ` +
        `LayerNorm, bias and prompt outputs; train this mode with SPSA`,
    );
  }
}

export interface ViTGraphSet {
  /** The full training graph: inputs x, y, trainables; outputs logits, loss. */
  full: Uint8Array;
  /** Present when a frozen prefix exists (cut ≥ 1): prefix (x → hidden/features) and suffix (that, y, trainables →
   * logits, loss). */
  split?: {
    cut: number;
    prefix: Uint8Array;
    suffix: Uint8Array;
    value: { name: string; shape: Dim[]; width: number };
  };
}

/** The graphs a training run needs; the split only when some prefix is frozen. */
export function buildViTGraphSet(p: PreparedViT): ViTGraphSet {
  const full = buildViTGraph(p);
  const cut = defaultCut(p);
  if (cut < 1) return { full };
  return {
    full,
    split: {
      cut,
      prefix: buildViTGraph(p, { part: 'prefix', cut }),
      suffix: buildViTGraph(p, { part: 'suffix', cut }),
      value: cutValue(p, cut),
    },
  };
}
