// An independent float64 ViT forward pass, written from the HF ViT definition (not from our graph builder), to check
// the ONNX graphs against. Deliberately naive: loops over tokens and units, no shared helpers with engine/.

export interface RefConfig {
  imageSize: [number, number];
  patchSize: [number, number];
  numChannels: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  qkvBias: boolean;
  distillationToken: boolean;
}

/** Tensors by canonical name ("vit.embeddings.cls_token", ...); `lora` adapters are applied as y += s·B(A x). */
export type RefWeights = ReadonlyMap<string, { shape: number[]; data: Float32Array }>;

export interface RefExtras {
  prompts?: { shape: number[]; data: Float32Array };
  loraScale?: number;
}

/** erf to ~1e-13: Taylor series below 3, asymptotic erfc above. */
export function erf64(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 100; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17) break;
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  const x2 = a * a;
  const series = 1 - 1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 ** 3) + 105 / (16 * x2 ** 4);
  return s * (1 - (Math.exp(-x2) / (a * Math.sqrt(Math.PI))) * series);
}

function get(w: RefWeights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** y[o] = Σ_i W[o, i] x[i] + b[o] (W stored [out, in]) plus the LoRA path when adapters exist. */
function lin(w: RefWeights, base: string, x: number[], extras: RefExtras): number[] {
  const W = get(w, `${base}.weight`);
  const b = w.get(`${base}.bias`)?.data;
  const nIn = x.length;
  const nOut = W.length / nIn;
  const y = new Array<number>(nOut).fill(0);
  for (let o = 0; o < nOut; o++) {
    let acc = b ? b[o]! : 0;
    for (let i = 0; i < nIn; i++) acc += W[o * nIn + i]! * x[i]!;
    y[o] = acc;
  }
  const A = w.get(`${base}.lora_A.weight`);
  if (A) {
    const B = get(w, `${base}.lora_B.weight`);
    const r = A.shape[0]!;
    const ax = new Array<number>(r).fill(0);
    for (let k = 0; k < r; k++) for (let i = 0; i < nIn; i++) ax[k]! += A.data[k * nIn + i]! * x[i]!;
    for (let o = 0; o < nOut; o++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += B[o * r + k]! * ax[k]!;
      y[o]! += (extras.loraScale ?? 1) * acc;
    }
  }
  return y;
}

function ln(x: number[], g: Float32Array, b: Float32Array, eps: number): number[] {
  const n = x.length;
  const mean = x.reduce((a, v) => a + v, 0) / n;
  const vr = x.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  return x.map((v, i) => ((v - mean) / Math.sqrt(vr + eps)) * g[i]! + b[i]!);
}

/** Logits of one image (`pixels` row-major [C, H, W]). */
export function referenceLogits(
  c: RefConfig,
  w: RefWeights,
  pixels: ArrayLike<number>,
  extras: RefExtras = {},
): number[] {
  const H = c.hiddenSize;
  const [ih, iw] = c.imageSize;
  const [ph, pw] = c.patchSize;
  const gh = ih / ph;
  const gw = iw / pw;
  const PW = get(w, 'vit.embeddings.patch_embeddings.projection.weight');
  const PB = get(w, 'vit.embeddings.patch_embeddings.projection.bias');
  const tokens: number[][] = [];
  tokens.push(Array.from(get(w, 'vit.embeddings.cls_token')));
  if (c.distillationToken) tokens.push(Array.from(get(w, 'vit.embeddings.distillation_token')));
  for (let py = 0; py < gh; py++) {
    for (let px = 0; px < gw; px++) {
      const t = new Array<number>(H).fill(0);
      for (let h = 0; h < H; h++) {
        let acc = PB[h]!;
        for (let ch = 0; ch < c.numChannels; ch++)
          for (let ky = 0; ky < ph; ky++)
            for (let kx = 0; kx < pw; kx++)
              acc +=
                PW[((h * c.numChannels + ch) * ph + ky) * pw + kx]! *
                pixels[(ch * ih + py * ph + ky) * iw + px * pw + kx]!;
        t[h] = acc;
      }
      tokens.push(t);
    }
  }
  const pos = get(w, 'vit.embeddings.position_embeddings');
  let x = tokens.map((t, i) => t.map((v, h) => v + pos[i * H + h]!));
  if (extras.prompts) {
    const nLead = c.distillationToken ? 2 : 1;
    const P = extras.prompts.shape[1]!;
    const pr = Array.from({ length: P }, (_, j) =>
      Array.from(extras.prompts!.data.subarray(j * H, (j + 1) * H)),
    );
    x = [...x.slice(0, nLead), ...pr, ...x.slice(nLead)];
  }
  const nh = c.numHeads;
  const d = H / nh;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `vit.encoder.layer.${l}.`;
    const h1 = x.map((t) =>
      ln(t, get(w, `${p}layernorm_before.weight`), get(w, `${p}layernorm_before.bias`), c.layerNormEps),
    );
    const q = h1.map((t) => lin(w, `${p}attention.attention.query`, t, extras));
    const k = h1.map((t) => lin(w, `${p}attention.attention.key`, t, extras));
    const v = h1.map((t) => lin(w, `${p}attention.attention.value`, t, extras));
    const ctx = x.map(() => new Array<number>(H).fill(0));
    for (let head = 0; head < nh; head++) {
      for (let i = 0; i < x.length; i++) {
        const scores = x.map((_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[i]![head * d + e]! * k[j]![head * d + e]!;
          return s / Math.sqrt(d);
        });
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < x.length; j++)
          for (let e = 0; e < d; e++) ctx[i]![head * d + e]! += (ex[j]! / z) * v[j]![head * d + e]!;
      }
    }
    const attnOut = ctx.map((t) => lin(w, `${p}attention.output.dense`, t, extras));
    x = x.map((t, i) => t.map((val, h) => val + attnOut[i]![h]!));
    const h2 = x.map((t) =>
      ln(t, get(w, `${p}layernorm_after.weight`), get(w, `${p}layernorm_after.bias`), c.layerNormEps),
    );
    const mlp = h2.map((t) => {
      const a = lin(w, `${p}intermediate.dense`, t, extras).map((u) => 0.5 * u * (1 + erf64(u / Math.SQRT2)));
      return lin(w, `${p}output.dense`, a, extras);
    });
    x = x.map((t, i) => t.map((val, h) => val + mlp[i]![h]!));
  }
  const f = ln(x[0]!, get(w, 'vit.layernorm.weight'), get(w, 'vit.layernorm.bias'), c.layerNormEps);
  return lin(w, 'classifier', f, extras);
}

/** Per-row cross-entropy in float64. */
export function referenceCE(logits: number[], label: number): number {
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
  return lse - logits[label]!;
}
