// The LR weight gradient of a layer is Σ_r c_r ε_r a_rᵀ over R query rows: with C[r, :] = c_r ε_r / σ it is the
// matrix product Cᵀ·A ([R, m]ᵀ · [R, p] → [m, p]). That is R·m·p multiply-adds per layer and step (784·128·R for
// the first MLP layer), so it runs as a tiny ORT graph (a BLAS Gemm) instead of a JS triple loop; the bias
// gradient Σ_r C[r, :] comes from the same call.
import * as ort from 'onnxruntime-node';

import { GraphBuilder } from '../onnx/graph.ts';
import { createSession, runInto, type CreateSessionOptions, type ProviderName } from '../onnx/session.ts';
import { MODEL_OPSET } from './mlp.ts';

/** Graph: c [R, m], a [R, p] → grad_w [m, p] = cᵀ·a, grad_b [m] = Σ_r c[r, :]. All dimensions symbolic. */
export function buildContraction(): Uint8Array {
  const g = new GraphBuilder('lr-contraction', MODEL_OPSET);
  const c = g.input('c', 'float32', ['R', 'm']);
  const a = g.input('a', 'float32', ['R', 'p']);
  g.node('Gemm', [c, a], ['grad_w'], { transA: 1 });
  g.node('ReduceSum', [c, g.constInt64([0], 'axis0')], ['grad_b'], { keepdims: 0 });
  g.output('grad_w', 'float32', ['m', 'p']);
  g.output('grad_b', 'float32', ['m']);
  return g.toBytes();
}

export class Contraction {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly provider: ProviderName,
  ) {}

  static async create(options: CreateSessionOptions = {}): Promise<Contraction> {
    const { session, provider } = await createSession(buildContraction(), {
      providers: ['cpu'],
      label: 'lr-contraction',
      ...options,
    });
    return new Contraction(session, provider);
  }

  /**
   * outW (m·p values, row-major [m, p]) ← Cᵀ·A and, if given, outB (m values) ← Σ_r C[r, :]. The outputs are
   * written in place, so outW/outB may be the gradient vector's FlatParams views of w_l / b_l (no copy).
   */
  async contract(
    c: Float32Array,
    a: Float32Array,
    rows: number,
    m: number,
    p: number,
    outW: Float32Array,
    outB?: Float32Array,
  ): Promise<void> {
    if (
      c.length !== rows * m ||
      a.length !== rows * p ||
      outW.length !== m * p ||
      (outB && outB.length !== m)
    ) {
      throw new RangeError(
        `contract: sizes c=${c.length} a=${a.length} outW=${outW.length} outB=${outB?.length} do not fit R=${rows} m=${m} p=${p}`,
      );
    }
    const outputs: Record<string, ort.Tensor> = { grad_w: new ort.Tensor('float32', outW, [m, p]) };
    if (outB) outputs.grad_b = new ort.Tensor('float32', outB, [m]);
    await runInto(
      this.session,
      { c: new ort.Tensor('float32', c, [rows, m]), a: new ort.Tensor('float32', a, [rows, p]) },
      outputs,
    );
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
