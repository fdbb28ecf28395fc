// Trainable parameters live in ONE flat Float32Array and each tensor is a subarray view of it. Estimators and
// optimizers then work on a single vector (one pass, one seed per direction), while ONNX Runtime is fed the
// views as-is, with no copy per step.
import { ModelError } from './errors.ts';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** Number of elements of a shape; [] is a scalar (1 element). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkSpecs(specs: readonly TensorSpec[]): void {
  const seen = new Set<string>();
  for (const { name, shape } of specs) {
    if (typeof name !== 'string' || name.length === 0) throw new ModelError('a trainable tensor has no name');
    if (seen.has(name)) throw new ModelError(`trainable tensor '${name}' is listed twice`);
    seen.add(name);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new ModelError(
        `trainable tensor '${name}' has shape [${String(shape)}]; dimensions must be positive integers`,
      );
    }
  }
}

export class FlatParams {
  readonly specs: readonly TensorSpec[];
  readonly data: Float32Array;
  readonly size: number;
  readonly #offsets = new Map<string, number>();
  readonly #views = new Map<string, Float32Array>();
  readonly #shapes = new Map<string, readonly number[]>();

  /** Lays the tensors out in the given order. `data`, when given, is adopted (not copied) and must fit exactly. */
  constructor(specs: readonly TensorSpec[], data?: Float32Array) {
    checkSpecs(specs);
    // Frozen copies: the layout must not change under the views handed out.
    this.specs = Object.freeze(
      specs.map((s) => Object.freeze({ name: s.name, shape: Object.freeze([...s.shape]) as number[] })),
    );
    let offset = 0;
    for (const s of this.specs) {
      this.#offsets.set(s.name, offset);
      this.#shapes.set(s.name, s.shape);
      offset += sizeOf(s.shape);
    }
    this.size = offset;
    if (data !== undefined && data.length !== offset) {
      throw new ModelError(`parameter data has ${data.length} values but the tensors need ${offset}`);
    }
    this.data = data ?? new Float32Array(offset);
    for (const s of this.specs) {
      const start = this.#offsets.get(s.name)!;
      this.#views.set(s.name, this.data.subarray(start, start + sizeOf(s.shape)));
    }
  }

  #lookup<T>(map: Map<string, T>, name: string): T {
    const value = map.get(name);
    if (value === undefined) {
      const known = this.specs.map((s) => s.name).join(', ');
      throw new ModelError(`no trainable tensor named '${name}' (have: ${known})`);
    }
    return value;
  }

  /** The tensor's values as a view into `data`: writes through, zero copy. */
  view(name: string): Float32Array {
    return this.#lookup(this.#views, name);
  }

  /** Start of the tensor in `data`. */
  offset(name: string): number {
    return this.#lookup(this.#offsets, name);
  }

  shape(name: string): readonly number[] {
    return this.#lookup(this.#shapes, name);
  }

  has(name: string): boolean {
    return this.#offsets.has(name);
  }

  /** A deep copy with its own buffer (the same layout). */
  clone(): FlatParams {
    return new FlatParams(this.specs, this.data.slice());
  }
}
