// The LR gradient of one noise site (engine/estimators/lr-layers.ts) formed inside ORT from what the queries already
// hold: the per-row coefficients c [R] and the σ-scaled noise [R, T·m] the graph saw, plus the site's input. Forming
// C = c·noise and its column sums in JavaScript were two passes over R·T·m floats per site and step (the ViT's sites
// draw ~10⁴ noise values per row), and C a buffer as large as the noise; here they are one Mul feeding the Gemm.
//
//   linear   ĝ_W = Cᵀ·A ([m, p]),  ĝ_b = Σ_rows C      C = reshape(c ⊙ noise, [R·T, m]), A = reshape(a, [R·T, p])
//   diagonal ĝ_γ = Σ_rows C ⊙ A,   ĝ_β = Σ_rows C      (a LayerNorm gain; A = n̂, p = m)
//   shift    ĝ_b = Σ_rows C                            (a bias alone, or the VPT prompts)
import * as ort from 'onnxruntime-node';

import { GraphBuilder } from './graph.ts';
import { createSession, runInto, type CreateSessionOptions } from './session.ts';

export type SiteKind = 'linear' | 'diagonal' | 'shift';

/** Graph of one kind; R, T·m, T·p symbolic, the [R·T, m] and [R·T, p] views given as shape inputs. */
export function buildSiteContraction(kind: SiteKind): Uint8Array {
  const g = new GraphBuilder(`lr-site-${kind}`, 17);
  const coef = g.input('coef', 'float32', ['R']);
  const noise = g.input('noise', 'float32', ['R', 'K']);
  const shapeC = g.input('shape_c', 'int64', [2]);
  const scaled = g.op('Mul', [noise, g.op('Unsqueeze', [coef, g.constInt64([1], 'axis1')])]);
  const c = g.op('Reshape', [scaled, shapeC]);
  const axis0 = g.constInt64([0], 'axis0');
  g.node('ReduceSum', [c, axis0], ['grad_b'], { keepdims: 0 });
  g.output('grad_b', 'float32', ['m']);
  if (kind === 'shift') return g.toBytes();
  const a = g.op('Reshape', [g.input('a', 'float32', ['R', 'J']), g.input('shape_a', 'int64', [2])]);
  if (kind === 'linear') {
    g.node('Gemm', [c, a], ['grad_w'], { transA: 1 });
    g.output('grad_w', 'float32', ['m', 'p']);
  } else {
    g.node('ReduceSum', [g.op('Mul', [c, a]), axis0], ['grad_w'], { keepdims: 0 });
    g.output('grad_w', 'float32', ['m']);
  }
  return g.toBytes();
}

/** One session per kind, created on first use. */
export class SiteContraction {
  readonly #sessions = new Map<SiteKind, Promise<ort.InferenceSession>>();

  constructor(private readonly options: CreateSessionOptions = {}) {}

  #session(kind: SiteKind): Promise<ort.InferenceSession> {
    let s = this.#sessions.get(kind);
    if (!s) {
      s = createSession(buildSiteContraction(kind), {
        providers: ['cpu'],
        label: `lr-site-${kind}`,
        ...this.options,
      }).then((c) => c.session);
      this.#sessions.set(kind, s);
    }
    return s;
  }

  /**
   * Writes site gradients in place: `outW` (linear [m, p], diagonal [m]) and `outB` ([m]); either may be omitted
   * (a LoRA factor has no bias, a shift no weight). `noise` is [rows, tokens·m], `a` [rows, tokens·p].
   */
  async contract(
    kind: SiteKind,
    coef: Float32Array,
    noise: Float32Array,
    a: Float32Array | undefined,
    site: { rows: number; tokens: number; m: number; p: number },
    outW: Float32Array | undefined,
    outB: Float32Array | undefined,
  ): Promise<void> {
    const { rows, tokens, m, p } = site;
    const wSize = kind === 'linear' ? m * p : m;
    if (
      coef.length !== rows ||
      noise.length !== rows * tokens * m ||
      (kind !== 'shift' && a?.length !== rows * tokens * p) ||
      (outW && (kind === 'shift' || outW.length !== wSize)) ||
      (outB && outB.length !== m) ||
      (!outW && !outB)
    ) {
      throw new RangeError(
        `site contraction (${kind}): sizes coef=${coef.length} noise=${noise.length} a=${a?.length} outW=${outW?.length} outB=${outB?.length} do not fit R=${rows} T=${tokens} m=${m} p=${p}`,
      );
    }
    const session = await this.#session(kind);
    const shape = (cols: number) =>
      new ort.Tensor('int64', BigInt64Array.from([rows * tokens, cols].map(BigInt)), [2]);
    const feeds: Record<string, ort.Tensor> = {
      coef: new ort.Tensor('float32', coef, [rows]),
      noise: new ort.Tensor('float32', noise, [rows, tokens * m]),
      shape_c: shape(m),
    };
    if (kind !== 'shift') {
      feeds.a = new ort.Tensor('float32', a!, [rows, tokens * p]);
      feeds.shape_a = shape(p);
    }
    const outputs: Record<string, ort.Tensor> = {};
    if (outW) outputs.grad_w = new ort.Tensor('float32', outW, kind === 'linear' ? [m, p] : [m]);
    if (outB) outputs.grad_b = new ort.Tensor('float32', outB, [m]);
    await runInto(session, feeds, outputs);
  }

  async release(): Promise<void> {
    for (const s of this.#sessions.values()) await (await s).release();
    this.#sessions.clear();
  }
}
