// A trained θ written back into the ONNX classifier it was trained from, so the result is a standalone model with
// the original inputs and outputs that runs in any ONNX Runtime. Two shapes of θ come out of training an imported
// model (app/runs/problem-onnx.ts):
// - named float initializers, in θ order: each is replaced by its slice of θ (same name, same dims);
// - the head case: θ = [W (classes × p), b (classes)] of the layer that writes the logits (a ViT-style head,
//   trained over the frozen rest's features). The layer's weight and bias are replaced in the layout the layer
//   reads them in; a new head for other classes changes their shapes and the logits' declared width, and a layer
//   that had no bias gets one (the head always trains a bias).
import onnxProto from 'onnx-proto';

import { ModelError } from '../errors.ts';
import type { OutputLinear } from '../models/vit/onnx-import.ts';
import { decodeOnnxModel, freshNamer, graphValueNames } from './proto.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
type ModelProto = onnxProto.onnx.ModelProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

/** A FLOAT initializer holding `data` (little-endian raw bytes, as ONNX requires), inline rather than external. */
function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  const raw = new Uint8Array(4 * data.length);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i]!, true);
  return { name, dims, dataType: FLOAT, rawData: raw };
}

const sizeOf = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const dimsOf = (t: TensorProto) => (t.dims ?? []).map((d) => Number(d));

/** Optional metadata written into the model (e.g. the class names a new head was trained for). */
export interface WriteBackMeta {
  /** metadata_props entries added (replacing entries with the same key). */
  metadata?: Record<string, string>;
  /** Names the model in errors. */
  file?: string;
}

function withMetadata(model: ModelProto, meta: WriteBackMeta): void {
  const entries = Object.entries(meta.metadata ?? {});
  if (entries.length === 0) return;
  const keys = new Set(entries.map(([k]) => k));
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => !keys.has(p.key ?? '')),
    ...entries.map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  ];
}

/**
 * `bytes` with the named FLOAT initializers replaced by consecutive slices of `theta` (in `names` order, each its
 * initializer's own size and dims). Throws naming the tensor when one is missing or not FLOAT, and when θ's length
 * is not the initializers' total.
 */
export function writeInitializers(
  bytes: Uint8Array,
  names: readonly string[],
  theta: Float32Array,
  meta: WriteBackMeta = {},
): Uint8Array {
  const file = meta.file ?? '<onnx>';
  const model = decodeOnnxModel(bytes, file);
  const g = model.graph!;
  const index = new Map((g.initializer ?? []).map((t, i) => [t.name ?? '', i]));
  const total = names.reduce((s, name) => {
    const i = index.get(name);
    if (i === undefined) throw new ModelError(`${file}: no initializer '${name}' to write`);
    const t = g.initializer![i]!;
    if (t.dataType !== FLOAT) throw new ModelError(`${file}: initializer '${name}' is not FLOAT`);
    return s + sizeOf(dimsOf(t));
  }, 0);
  if (theta.length !== total) {
    throw new ModelError(
      `${file}: θ has ${theta.length} values; initializers ${names.join(', ')} hold ${total}`,
    );
  }
  const inits = [...g.initializer!];
  let off = 0;
  for (const name of names) {
    const i = index.get(name)!;
    const dims = dimsOf(inits[i]!);
    const n = sizeOf(dims);
    inits[i] = floatTensor(name, dims, theta.subarray(off, off + n));
    off += n;
  }
  g.initializer = inits;
  withMetadata(model, meta);
  return onnx.ModelProto.encode(model).finish();
}

/**
 * `bytes` with the output layer `linear` (as findOutputLinear found it for `logits`) set to the head θ = [W
 * (classes × p) row-major, b (classes)]. `classes` may differ from the layer's outDim (a new head).
 */
export function writeOutputLinear(
  bytes: Uint8Array,
  linear: OutputLinear,
  theta: Float32Array,
  classes: number,
  meta: WriteBackMeta & { logits?: string } = {},
): Uint8Array {
  const file = meta.file ?? '<onnx>';
  const p = linear.inDim;
  const k = classes;
  if (theta.length !== k * p + k) {
    throw new ModelError(
      `${file}: the head θ has ${theta.length} values; ${k} classes over ${p} features need ${k * p + k}`,
    );
  }
  const model = decodeOnnxModel(bytes, file);
  const g = model.graph!;
  const nodes = [...(g.node ?? [])];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  // Walk from the logits back through Identity nodes to the layer, as findOutputLinear did.
  const logits = meta.logits ?? g.output![0]!.name ?? '';
  const chain = [logits];
  let at = producer.get(logits);
  while (at !== undefined && nodes[at]!.opType === 'Identity') {
    chain.push(nodes[at]!.input![0]!);
    at = producer.get(chain.at(-1)!);
  }
  if (at === undefined) throw new ModelError(`${file}: no node writes the logits '${logits}'`);
  const node: NodeProto = { ...nodes[at]! };
  nodes[at] = node;

  // W in the layer's own layout: [classes, p] for out-in (Gemm transB = 1), [p, classes] otherwise.
  const w = new Float32Array(k * p);
  for (let o = 0; o < k; o++) {
    for (let i = 0; i < p; i++) {
      w[linear.layout === 'out-in' ? o * p + i : i * k + o] = theta[o * p + i]!;
    }
  }
  const b = theta.subarray(k * p);

  const inits = [...(g.initializer ?? [])];
  const initIndex = new Map(inits.map((t, i) => [t.name ?? '', i]));
  const fresh = freshNamer(graphValueNames(g));
  // Another node reading the same initializer (tied weights) must keep the old values: write a new tensor then.
  const readers = (name: string) => nodes.filter((n) => (n.input ?? []).includes(name)).length;
  const written = new Map<string, number[]>();
  const put = (name: string, dims: number[], data: Float32Array, owner: NodeProto): void => {
    const i = initIndex.get(name);
    if (i !== undefined && readers(name) === 1) {
      // A bias stored as [1, k] keeps its rank; everything else takes the layer's dims for `classes`.
      const old = dimsOf(inits[i]!);
      const kept = old.length === 2 && dims.length === 1 && old[0] === 1 ? [1, k] : dims;
      inits[i] = floatTensor(name, kept, data);
      written.set(name, kept);
      return;
    }
    const renamed = fresh(name);
    inits.push(floatTensor(renamed, dims, data));
    owner.input = (owner.input ?? []).map((x) => (x === name ? renamed : x));
  };

  const wDims = linear.layout === 'out-in' ? [k, p] : [p, k];
  if (node.opType === 'Gemm') {
    put(linear.weight, wDims, w, node);
    if (linear.bias) put(linear.bias, [k], b, node);
    else {
      const bias = fresh('flops_head_bias');
      inits.push(floatTensor(bias, [k], b));
      node.input = [node.input![0]!, node.input![1]!, bias];
    }
  } else if (node.opType === 'Add') {
    // Add(MatMul(features, W), bias): W lives on the MatMul.
    const mi = producer.get(
      node.input!.find((x) => producer.has(x) && nodes[producer.get(x)!]!.opType === 'MatMul')!,
    )!;
    const matmul: NodeProto = { ...nodes[mi]! };
    nodes[mi] = matmul;
    put(linear.weight, wDims, w, matmul);
    put(linear.bias!, [k], b, node);
  } else if (node.opType === 'MatMul') {
    // No bias: the MatMul now writes a fresh value and an Add of the trained bias writes the old one.
    put(linear.weight, wDims, w, node);
    const out = node.output![0]!;
    const pre = fresh('flops_head_matmul');
    node.output = [pre];
    const bias = fresh('flops_head_bias');
    inits.push(floatTensor(bias, [k], b));
    nodes.splice(at + 1, 0, { opType: 'Add', input: [pre, bias], output: [out] });
  } else {
    throw new ModelError(`${file}: the logits come from a ${node.opType}, not the layer that was trained`);
  }
  g.node = nodes;
  g.initializer = inits;
  // Old IR versions also list initializers among the inputs, with their shapes: keep those in step.
  g.input = (g.input ?? []).map((i) => {
    const dims = written.get(i.name ?? '');
    return dims
      ? {
          name: i.name,
          type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
        }
      : i;
  });

  // The layer's output and the Identity chain now have `classes` columns: drop stale shape annotations and
  // declare the logits' width.
  const stale = new Set(chain);
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !stale.has(v.name ?? ''));
  g.output = g.output!.map((o) => {
    if (o.name !== logits) return o;
    const dims = o.type?.tensorType?.shape?.dim;
    if (!dims || dims.length === 0) return o;
    return {
      ...o,
      type: {
        ...o.type,
        tensorType: {
          ...o.type!.tensorType,
          shape: { dim: [...dims.slice(0, -1), { dimValue: k }] },
        },
      },
    };
  });
  withMetadata(model, meta);
  return onnx.ModelProto.encode(model).finish();
}
