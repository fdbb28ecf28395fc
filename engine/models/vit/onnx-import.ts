// Generic ONNX classifier import: any ONNX model whose output is logits [batch, classes]. The user picks which
// float initializers to train; those become graph inputs (FlatParams order = the order given), everything else stays
// frozen. A per-row cross-entropy output `loss` and an int64 label input `y` are appended so the model fits the
// engine's classifier contract (SPSA on any chosen tensors; LR on the output logits via the head estimator).
// Lives next to the ViT code because it shares the trainable-input idea; nothing here is ViT-specific.
import { readFile } from 'node:fs/promises';

import onnxProto from 'onnx-proto';

import { FormatError, ModelError } from '../../errors.ts';
import { decodeOnnxModel } from '../../onnx/proto.ts';
import type { TensorSpec } from './modes.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
/** The flat image input importOnnxClassifier adds when given a row shape. */
export const FLAT_INPUT = 'flops_x';

export interface OnnxInitializerInfo {
  name: string;
  shape: number[];
  /** ONNX TensorProto.DataType name, e.g. 'FLOAT'. */
  dtype: string;
  size: number;
}

export interface ImportedClassifier {
  /** The rewritten model: inputs = original inputs, y, then the chosen trainables; outputs = logits, loss. */
  bytes: Uint8Array;
  trainable: TensorSpec[];
  /** The chosen initializers' values in `trainable` order. */
  theta0: Float32Array;
  inputName: string;
  labelName: string;
  lossName: string;
  logitsName: string;
  numClasses: number | undefined;
  opset: number;
}

/** decodeOnnxModel, which also requires an opset (the import reads it). */
function decodeModel(bytes: Uint8Array, file: string): onnxProto.onnx.ModelProto {
  const model = decodeOnnxModel(bytes, file);
  if (!model.opsetImport?.length) throw new FormatError(file, 'not an ONNX model (no opset)');
  return model;
}

const dims = (t: onnxProto.onnx.ITensorProto) => (t.dims ?? []).map((d) => Number(d));
const dtypeName = (code: number) => onnx.TensorProto.DataType[code] ?? `type ${code}`;

/** The initializers of an ONNX model (for the user to pick trainables from). */
export function listOnnxInitializers(bytes: Uint8Array, file = '<onnx>'): OnnxInitializerInfo[] {
  return (decodeModel(bytes, file).graph!.initializer ?? []).map((t) => {
    const shape = dims(t);
    return {
      name: t.name ?? '',
      shape,
      dtype: dtypeName(t.dataType ?? 0),
      size: shape.reduce((a, b) => a * b, 1),
    };
  });
}

function floatValues(t: onnxProto.onnx.ITensorProto, file: string): Float32Array {
  const n = dims(t).reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new ModelError(
      `${file}: initializer '${t.name}' uses external data, which import does not support`,
    );
  }
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== 4 * n)
      throw new FormatError(
        file,
        `initializer '${t.name}' has ${t.rawData.length} raw bytes for ${n} floats`,
      );
    const out = new Float32Array(n);
    const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  const f = t.floatData ?? [];
  if (f.length !== n) throw new FormatError(file, `initializer '${t.name}' has ${f.length} values for ${n}`);
  return Float32Array.from(f);
}

export interface ImportOptions {
  /** Names of float initializers to train, in the order theta lays them out. */
  trainable: string[];
  /** The logits output (default: the first graph output). */
  logits?: string;
  /** The image input (default: the first graph input that is not an initializer). */
  input?: string;
  /**
   * The image input's per-row shape (e.g. [C, H, W]). When given, a flat input `flops_x` [batch, prod(rowShape)] is
   * added and reshaped into the original input, so the model fits the engine's row-major [rows, inDim] contract.
   */
  rowShape?: number[];
  /** Names in errors. */
  file?: string;
}

/** Rewrites an ONNX classifier so the chosen initializers are inputs and a per-row loss is computed. */
export function importOnnxClassifier(bytes: Uint8Array, opts: ImportOptions): ImportedClassifier {
  const file = opts.file ?? '<onnx>';
  const model = decodeModel(bytes, file);
  const g = model.graph!;
  const opset = Number(
    model.opsetImport!.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version ?? 0,
  );
  if (opset < 11) throw new ModelError(`${file}: opset ${opset} is too old (need ≥ 11 for GatherElements)`);
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const inputs = g.input ?? [];
  const inputName = opts.input ?? inputs.find((i) => !inits.has(i.name ?? ''))?.name;
  if (!inputName || !inputs.some((i) => i.name === inputName)) {
    throw new ModelError(`${file}: no image input${opts.input ? ` named '${opts.input}'` : ''}`);
  }
  const logitsName = opts.logits ?? g.output![0]!.name ?? '';
  const logitsInfo = g.output!.find((o) => o.name === logitsName);
  if (!logitsInfo) throw new ModelError(`${file}: no output named '${logitsName}'`);
  const lastDim = logitsInfo.type?.tensorType?.shape?.dim?.at(-1);
  const numClasses = lastDim?.dimValue ? Number(lastDim.dimValue) : undefined;

  if (opts.trainable.length === 0) throw new ModelError(`${file}: choose at least one initializer to train`);
  const trainable: TensorSpec[] = [];
  const values: Float32Array[] = [];
  for (const name of opts.trainable) {
    const t = inits.get(name);
    if (!t) throw new ModelError(`${file}: no initializer '${name}'`);
    if (t.dataType !== FLOAT)
      throw new ModelError(
        `${file}: initializer '${name}' is ${dtypeName(t.dataType ?? 0)}, only FLOAT can be trained`,
      );
    if (trainable.some((s) => s.name === name))
      throw new ModelError(`${file}: initializer '${name}' chosen twice`);
    trainable.push({ name, shape: dims(t) });
    values.push(floatValues(t, file));
  }
  const chosen = new Set(opts.trainable);
  const used = new Set<string>([
    ...inits.keys(),
    ...inputs.map((i) => i.name ?? ''),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  for (const n of ['y', 'loss', ...(opts.rowShape ? [FLAT_INPUT] : [])])
    if (used.has(n)) throw new ModelError(`${file}: the model already has a value named '${n}'`);

  const valueInfo = (
    name: string,
    elemType: number,
    shape: (number | string)[],
  ): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  // Old IR versions list initializers among the inputs too; keep such an entry instead of adding a duplicate.
  // With rowShape the image input stops being an input: a Reshape of the flat one defines it instead.
  const rowShape = opts.rowShape;
  const newInputs = [
    ...(rowShape ? [valueInfo(FLAT_INPUT, FLOAT, ['batch', rowShape.reduce((a, b) => a * b, 1)])] : []),
    ...inputs.filter(
      (i) => (!inits.has(i.name ?? '') || chosen.has(i.name ?? '')) && !(rowShape && i.name === inputName),
    ),
    valueInfo('y', INT64, ['batch']),
    ...trainable
      .filter((s) => !inputs.some((i) => i.name === s.name))
      .map((s) => valueInfo(s.name, FLOAT, s.shape)),
  ];
  // Per-row CE = −log_softmax(z)[y]; Unsqueeze/Squeeze take axes as an attribute before opset 13, an input after.
  const nodes = [...(g.node ?? [])];
  const extraInits: onnxProto.onnx.ITensorProto[] = [];
  let k = 0;
  const fresh = (p: string) => {
    let n = `flops_${p}_${k++}`;
    while (used.has(n)) n = `flops_${p}_${k++}`;
    return n;
  };
  const axisNode = (op: 'Unsqueeze' | 'Squeeze', x: string): string => {
    const out = fresh(op.toLowerCase());
    if (opset < 13) {
      nodes.push({
        opType: op,
        input: [x],
        output: [out],
        attribute: [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }],
      });
    } else {
      const axes = fresh('axes');
      extraInits.push({
        name: axes,
        dims: [1],
        dataType: INT64,
        rawData: new Uint8Array(new BigInt64Array([1n]).buffer),
      });
      nodes.push({ opType: op, input: [x, axes], output: [out] });
    }
    return out;
  };
  if (rowShape) {
    const shape = fresh('row_shape');
    extraInits.push({
      name: shape,
      dims: [rowShape.length + 1],
      dataType: INT64,
      rawData: new Uint8Array(BigInt64Array.from([-1, ...rowShape].map(BigInt)).buffer),
    });
    nodes.unshift({ opType: 'Reshape', input: [FLAT_INPUT, shape], output: [inputName] });
  }
  const logp = fresh('logp');
  nodes.push({
    opType: 'LogSoftmax',
    input: [logitsName],
    output: [logp],
    attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
  });
  const picked = fresh('picked');
  nodes.push({
    opType: 'GatherElements',
    input: [logp, axisNode('Unsqueeze', 'y')],
    output: [picked],
    attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
  });
  nodes.push({ opType: 'Neg', input: [axisNode('Squeeze', picked)], output: ['loss'] });

  const out = onnx.ModelProto.create({
    ...model,
    graph: {
      ...g,
      node: nodes,
      input: newInputs,
      initializer: [...(g.initializer ?? []).filter((t) => !chosen.has(t.name ?? '')), ...extraInits],
      output: [logitsInfo, valueInfo('loss', FLOAT, ['batch'])],
    },
  });
  const theta0 = new Float32Array(values.reduce((a, v) => a + v.length, 0));
  let off = 0;
  for (const v of values) {
    theta0.set(v, off);
    off += v.length;
  }
  return {
    bytes: onnx.ModelProto.encode(out).finish(),
    trainable,
    theta0,
    inputName: rowShape ? FLAT_INPUT : inputName,
    labelName: 'y',
    lossName: 'loss',
    logitsName,
    numClasses,
    opset,
  };
}

/** The image input of a model: its name and its shape after the batch axis (null where a dim is symbolic). */
export function onnxImageInput(
  bytes: Uint8Array,
  opts: { input?: string; file?: string } = {},
): { name: string; rowShape: (number | null)[] } {
  const file = opts.file ?? '<onnx>';
  const g = decodeModel(bytes, file).graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const input = (g.input ?? []).find((i) =>
    opts.input !== undefined ? i.name === opts.input : !inits.has(i.name ?? ''),
  );
  if (!input?.name)
    throw new ModelError(`${file}: no image input${opts.input ? ` named '${opts.input}'` : ''}`);
  const dims = input.type?.tensorType?.shape?.dim ?? [];
  return { name: input.name, rowShape: dims.slice(1).map((d) => (d.dimValue ? Number(d.dimValue) : null)) };
}

/** The size of the logits output's last axis (the classes), undefined when symbolic; throws if there is no such output. */
export function onnxOutputClasses(
  bytes: Uint8Array,
  opts: { logits?: string; file?: string } = {},
): number | undefined {
  const file = opts.file ?? '<onnx>';
  const g = decodeModel(bytes, file).graph!;
  const name = opts.logits ?? g.output![0]!.name ?? '';
  const info = g.output!.find((o) => o.name === name);
  if (!info) throw new ModelError(`${file}: no output named '${name}'`);
  const last = info.type?.tensorType?.shape?.dim?.at(-1);
  return last?.dimValue ? Number(last.dimValue) : undefined;
}

/** A float initializer's shape and values. */
export function readOnnxInitializer(
  bytes: Uint8Array,
  name: string,
  file = '<onnx>',
): { shape: number[]; data: Float32Array } {
  const t = (decodeModel(bytes, file).graph!.initializer ?? []).find((i) => i.name === name);
  if (!t) throw new ModelError(`${file}: no initializer '${name}'`);
  if (t.dataType !== FLOAT) throw new ModelError(`${file}: initializer '${name}' is not FLOAT`);
  return { shape: dims(t), data: floatValues(t, file) };
}

/** The linear layer that produces the logits: logits = features · W (+ b), W and b initializers. */
export interface OutputLinear {
  /** The value the layer reads (the features of the head case). */
  features: string;
  weight: string;
  bias?: string;
  /** 'in-out': W is [inDim, outDim] (MatMul, Gemm transB=0); 'out-in': [outDim, inDim] (Gemm transB=1, PyTorch). */
  layout: 'in-out' | 'out-in';
  inDim: number;
  outDim: number;
}

/**
 * Finds the last linear layer when it writes the logits directly (through Identity nodes at most): Gemm (transA 0,
 * alpha and beta 1), MatMul, or Add of a MatMul and a bias. Anything else after it (a Softmax, a scale) means the
 * logits are not that layer's output, and undefined is returned.
 */
export function findOutputLinear(
  bytes: Uint8Array,
  opts: { logits?: string; file?: string } = {},
): OutputLinear | undefined {
  const g = decodeModel(bytes, opts.file ?? '<onnx>').graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  let value = opts.logits ?? g.output![0]!.name ?? '';
  let node = producer.get(value);
  while (node?.opType === 'Identity') {
    value = node.input![0]!;
    node = producer.get(value);
  }
  if (!node) return undefined;
  const attr = (n: onnxProto.onnx.INodeProto, key: string, fallback: number): number => {
    const a = (n.attribute ?? []).find((x) => x.name === key);
    return a ? Number(a.i ?? a.f ?? fallback) : fallback;
  };
  const weightOf = (name: string | undefined) => {
    const t = name === undefined ? undefined : inits.get(name);
    return t && t.dataType === FLOAT && dims(t).length === 2 ? dims(t) : undefined;
  };
  const biasOk = (name: string | undefined, outDim: number): boolean => {
    const t = name === undefined ? undefined : inits.get(name);
    return (
      !!t && t.dataType === FLOAT && dims(t).reduce((a, b) => a * b, 1) === outDim && dims(t).length <= 2
    );
  };
  const linear = (
    features: string,
    weight: string,
    transB: boolean,
    bias?: string,
  ): OutputLinear | undefined => {
    const shape = weightOf(weight);
    if (!shape) return undefined;
    const [inDim, outDim] = transB ? [shape[1]!, shape[0]!] : [shape[0]!, shape[1]!];
    if (bias !== undefined && !biasOk(bias, outDim)) return undefined;
    return {
      features,
      weight,
      ...(bias ? { bias } : {}),
      layout: transB ? 'out-in' : 'in-out',
      inDim,
      outDim,
    };
  };
  if (node.opType === 'Gemm') {
    const [a, b, c] = node.input ?? [];
    if (attr(node, 'transA', 0) !== 0 || attr(node, 'alpha', 1) !== 1 || (c && attr(node, 'beta', 1) !== 1)) {
      return undefined;
    }
    return linear(a!, b!, attr(node, 'transB', 0) === 1, c || undefined);
  }
  if (node.opType === 'MatMul') return linear(node.input![0]!, node.input![1]!, false);
  if (node.opType === 'Add') {
    for (const [mm, bias] of [node.input ?? [], [...(node.input ?? [])].reverse()]) {
      const m = producer.get(mm!);
      if (m?.opType === 'MatMul' && inits.has(bias!)) return linear(m.input![0]!, m.input![1]!, false, bias);
    }
  }
  return undefined;
}

/** The model cut after `output`: only the nodes it depends on, and it as the one output (the frozen prefix). */
export function onnxPrefixModel(bytes: Uint8Array, output: string, file = '<onnx>'): Uint8Array {
  const model = decodeModel(bytes, file);
  const g = model.graph!;
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const needed = new Set<onnxProto.onnx.INodeProto>();
  const stack = [output];
  while (stack.length > 0) {
    const n = producer.get(stack.pop()!);
    if (!n || needed.has(n)) continue;
    needed.add(n);
    stack.push(...(n.input ?? []).filter((x) => x !== ''));
  }
  const used = new Set([...needed].flatMap((n) => n.input ?? []));
  const out = onnx.ModelProto.create({
    ...model,
    graph: {
      ...g,
      node: (g.node ?? []).filter((n) => needed.has(n)),
      initializer: (g.initializer ?? []).filter((t) => used.has(t.name ?? '')),
      input: (g.input ?? []).filter(
        (i) => used.has(i.name ?? '') || !(g.initializer ?? []).some((t) => t.name === i.name),
      ),
      output: [{ name: output, type: { tensorType: { elemType: FLOAT } } }],
    },
  });
  return onnx.ModelProto.encode(out).finish();
}

/** Reads a file and imports it (errors name the file). */
export async function importOnnxClassifierFile(
  file: string,
  opts: Omit<ImportOptions, 'file'>,
): Promise<ImportedClassifier> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new FormatError(file, `cannot read (${(cause as Error).message})`, { cause });
  }
  return importOnnxClassifier(bytes, { ...opts, file });
}
