// A small builder for ONNX graphs on top of onnx-proto's generated protobuf code. Models in this project are
// built in code (not exported from Python) so that we decide which tensors are graph inputs (trainable, fed per
// step) and which are initializers (frozen), and where noise enters.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'int64' | 'int32' | 'bool';
/** A dimension: a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

const elemTypeCode: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Attribute values. Plain numbers are INT attributes; wrap floats with `float()` so 1.0 stays a FLOAT. */
export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr;
interface FloatAttr {
  kind: 'float';
  value: number;
}
interface FloatsAttr {
  kind: 'floats';
  value: number[];
}
export const float = (value: number): FloatAttr => ({ kind: 'float', value });
export const floats = (value: number[]): FloatsAttr => ({ kind: 'floats', value });

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

function valueInfo(name: string, type: ElemType, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemTypeCode[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (value.kind === 'float') return { name, type: T.FLOAT, f: value.value };
  return { name, type: T.FLOATS, floats: value.value };
}

export class GraphBuilder {
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  constructor(
    readonly name: string,
    readonly opset = 17,
  ) {}

  /** A fresh, unused value name with a readable prefix (claimed when a node or initializer defines it). */
  fresh(prefix: string): string {
    let name = `${prefix}_${this.#counter++}`;
    while (this.#names.has(name)) name = `${prefix}_${this.#counter++}`;
    return name;
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new Error(`GraphBuilder: value name '${name}' is already used`);
    this.#names.add(name);
    return name;
  }

  input(name: string, type: ElemType, shape: Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), type, shape));
    return name;
  }

  /** Marks an existing value as a graph output (optionally renaming it through Identity). */
  output(value: string, type: ElemType, shape: Dim[], name = value): string {
    if (name !== value) this.node('Identity', [value], [name]);
    this.#outputs.push(valueInfo(name, type, shape));
    return name;
  }

  initializer(name: string, data: TensorData, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(
        `GraphBuilder: initializer '${name}' has ${data.length} values but dims ${dims.join('x')}`,
      );
    }
    this.#initializers.push({
      name: this.#claim(name),
      dims,
      dataType: elemTypeCode[elemTypeOf(data)],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** Constant helpers for small tensors (shapes, axes, scalars). */
  constInt64(values: number[], prefix = 'const'): string {
    return this.initializer(this.fresh(prefix), BigInt64Array.from(values.map(BigInt)), [values.length]);
  }
  constFloat(values: number[] | Float32Array, dims: number[] = [values.length], prefix = 'const'): string {
    return this.initializer(this.fresh(prefix), Float32Array.from(values), dims);
  }

  /** Adds a node; returns its output names. `outputs` may be names or a count of fresh names. */
  node(
    op: string,
    inputs: string[],
    outputs: string[] | number = 1,
    attrs: Record<string, AttrValue> = {},
    domain = '',
  ): string[] {
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()))
        : outputs;
    for (const o of outs) this.#claim(o);
    this.#nodes.push({
      opType: op,
      input: inputs,
      output: outs,
      name: `n${this.#nodes.length}_${op}`,
      domain,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Single-output convenience. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(op, inputs, 1, attrs)[0]!;
  }

  toBytes(): Uint8Array {
    const irVersion = this.opset <= 18 ? 8 : this.opset <= 20 ? 9 : 10;
    const model = onnx.ModelProto.create({
      irVersion,
      producerName: 'flops-workbench',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.name,
        node: this.#nodes,
        input: this.#inputs,
        output: this.#outputs,
        initializer: this.#initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
