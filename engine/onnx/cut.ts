// Frozen-prefix reuse for any ONNX graph (spec §7, Figure 1's φ₁), the generic form of what the ViT graphs do by
// construction (engine/models/vit/graph.ts): a graph with one per-sample input ("rows", e.g. the flat image) and
// other inputs fed per query (trainable tensors, labels) is split at the latest cut that leaves every node reading a
// per-query input, directly or through other nodes, in the suffix. Everything before that cut depends only on the
// rows and frozen initializers, so it runs once per sample and its outputs are cached; the queries then run only
// the suffix.
//
// The cut values (the frozen per-sample values the suffix reads: a ResNet or a transformer block can need several,
// e.g. the LayerNorm output and the residual stream) travel as one flat row [rows, width], so the two parts fit
// the engine's contracts unchanged: the prefix is a FeatureGraph (rows → `flops_cut`), and the suffix takes
// `flops_cut` where the full graph took the rows, slicing and reshaping it back into the original values.
//
// Graphs carry no types for intermediate values, so whether a candidate is a batch-major float tensor is learnt by
// running the prefix on real rows (one row, then two): a value that is not (an int64 shape computed from Shape(x),
// a [tokens, batch, ...] layout, anything mixing rows) is recomputed in the suffix instead, its producer moving
// across the cut, until every cut value is.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

import { ModelError } from '../errors.ts';
import { decodeOnnxModel, freshNamer, graphValueNames } from './proto.ts';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type GraphProto = onnxProto.onnx.IGraphProto;

export interface CutValue {
  /** The value's name in the original graph. */
  name: string;
  /** Its shape after the batch axis, as measured on real rows. */
  rowShape: number[];
  /** Where it sits in the flat cut row. */
  offset: number;
  width: number;
}

export interface OnnxCut {
  /** rows input [rows, ...rowShape] → `cutName` [rows, width]; frozen initializers only. */
  prefix: Uint8Array;
  /** `cutName` [rows, width] and every other input of the original graph → the original outputs. */
  suffix: Uint8Array;
  cutName: string;
  /** Floats per row in the cut. */
  width: number;
  values: CutValue[];
  /** Nodes each part runs (the suffix's count excludes the Slice/Reshape that unpack the cut). */
  prefixNodes: number;
  suffixNodes: number;
}

export interface CutOptions {
  /** The per-sample input the prefix reads. Every other input of the graph is fed per query. */
  rowsInput: string;
  /** rowsInput's shape after the batch axis. */
  rowShape: number[];
  /** At least two rows of real input, row-major: the probe that measures the cut values runs on them. */
  probeRows: Float32Array;
  /** Name of the flat value between the parts (default `flops_cut`, made unique). */
  cutName?: string;
  /** Names the model in errors. */
  file?: string;
}

/** A cut, or why the graph has none worth making (nothing per-sample is frozen before the per-query inputs). */
export type CutResult = { cut: OnnxCut; reason?: undefined } | { cut?: undefined; reason: string };

/**
 * The values a node reads: its inputs and, for control flow (If, Loop, Scan), every name its subgraphs read, which
 * may come from the outer graph. Over-approximating only keeps more of the graph in the suffix.
 */
function readsOf(n: NodeProto): string[] {
  const names = (n.input ?? []).filter((x) => x !== '');
  const visit = (g: GraphProto | null | undefined) => {
    for (const inner of g?.node ?? []) names.push(...readsOf(inner));
  };
  for (const a of n.attribute ?? []) {
    visit(a.g);
    for (const g of a.graphs ?? []) visit(g);
  }
  return names;
}

interface Analysis {
  /** Node indices that run in the suffix. */
  suffix: Set<number>;
  /** Per-sample frozen values the suffix reads, in first-use order. */
  cut: string[];
  /** Node indices the prefix needs to compute `cut`. */
  prefix: Set<number>;
}

/**
 * Splits the nodes: the suffix is every node that reads a per-query input (directly or through other nodes) plus
 * `moved`, with the static nodes (initializer-only) they need; the cut is what the suffix reads that the rows
 * produce; the prefix is what computing the cut needs.
 */
function analyse(g: GraphProto, rowsInput: string, moved: ReadonlySet<number>): Analysis {
  const nodes = g.node ?? [];
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const query = new Set(
    (g.input ?? []).map((i) => i.name ?? '').filter((n) => n !== rowsInput && !inits.has(n)),
  );
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o !== '') producer.set(o, i);
  });
  const reads = nodes.map(readsOf);

  // Per node: does it depend on a per-query input, and on the rows? A memoised DFS, so no topological order is
  // assumed; visited in index order, a sorted graph (what the ONNX spec asks for) finds every producer memoised, so
  // the recursion stays one level deep however long the model is.
  const kind: ('query' | 'rows' | 'static' | undefined)[] = new Array(nodes.length);
  const valueKind = (v: string): 'query' | 'rows' | 'static' => {
    if (query.has(v)) return 'query';
    if (v === rowsInput) return 'rows';
    const p = producer.get(v);
    return p === undefined ? 'static' : nodeKind(p);
  };
  const nodeKind = (i: number): 'query' | 'rows' | 'static' => {
    const known = kind[i];
    if (known) return known;
    // A node is visited once; a cycle (invalid ONNX) resolves as static rather than recursing forever.
    kind[i] = 'static';
    let k: 'query' | 'rows' | 'static' = moved.has(i) ? 'query' : 'static';
    for (const v of reads[i]!) {
      if (k === 'query') break;
      const vk = valueKind(v);
      if (vk === 'query' || (vk === 'rows' && k === 'static')) k = vk;
    }
    kind[i] = k;
    return k;
  };
  const suffix = new Set<number>();
  nodes.forEach((_, i) => {
    if (nodeKind(i) === 'query') suffix.add(i);
  });

  // What the suffix (and the graph's outputs) read from outside it: per-sample values form the cut; static values
  // are recomputed in the suffix from initializers (cheap, and ORT folds them).
  const cut: string[] = [];
  const seen = new Set<string>();
  const staticNeeded: number[] = [];
  const consider = (v: string) => {
    if (seen.has(v)) return;
    seen.add(v);
    const p = producer.get(v);
    if (p !== undefined && suffix.has(p)) return;
    const vk = valueKind(v);
    if (vk === 'rows') cut.push(v);
    else if (vk === 'static' && p !== undefined) staticNeeded.push(p);
  };
  [...suffix].sort((a, b) => a - b).forEach((i) => reads[i]!.forEach(consider));
  for (const o of g.output ?? []) consider(o.name ?? '');
  while (staticNeeded.length > 0) {
    const i = staticNeeded.pop()!;
    if (suffix.has(i)) continue;
    suffix.add(i);
    for (const v of reads[i]!) {
      const p = producer.get(v);
      if (p !== undefined && !suffix.has(p)) staticNeeded.push(p);
    }
  }

  const prefix = new Set<number>();
  const stack = cut.filter((v) => v !== rowsInput);
  while (stack.length > 0) {
    const p = producer.get(stack.pop()!);
    if (p === undefined || prefix.has(p)) continue;
    prefix.add(p);
    stack.push(...reads[p]!);
  }
  return { suffix, cut, prefix };
}

const int64 = (values: number[]) => ({
  dataType: onnx.TensorProto.DataType.INT64,
  rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  dims: [values.length],
});

/** A graph of the given nodes, keeping the initializers and value_info entries they read. */
function subgraph(
  model: onnxProto.onnx.ModelProto,
  nodes: NodeProto[],
  io: { input: onnxProto.onnx.IValueInfoProto[]; output: onnxProto.onnx.IValueInfoProto[] },
  extraInits: onnxProto.onnx.ITensorProto[] = [],
): Uint8Array {
  const g = model.graph!;
  const read = new Set(nodes.flatMap(readsOf));
  const defined = new Set(nodes.flatMap((n) => n.output ?? []));
  const out = onnx.ModelProto.create({
    ...model,
    graph: {
      ...g,
      node: nodes,
      input: io.input,
      output: io.output,
      initializer: [...(g.initializer ?? []).filter((t) => read.has(t.name ?? '')), ...extraInits],
      valueInfo: (g.valueInfo ?? []).filter((v) => defined.has(v.name ?? '')),
    },
  });
  return onnx.ModelProto.encode(out).finish();
}

interface Measured {
  type: string;
  dims: readonly number[];
  data: Float32Array | undefined;
}

/** Runs the cut values' prefix on `rows` rows of the probe and returns each value's type, dims and data. */
async function probe(
  model: onnxProto.onnx.ModelProto,
  a: Analysis,
  opts: CutOptions,
  rows: number,
): Promise<Map<string, Measured>> {
  const nodes = (model.graph!.node ?? []).filter((_, i) => a.prefix.has(i));
  const rowsInfo = (model.graph!.input ?? []).find((i) => i.name === opts.rowsInput)!;
  // Untyped outputs: ORT reports each value's real type, which is what the probe is for.
  const bytes = subgraph(model, nodes, {
    input: [rowsInfo],
    output: a.cut.filter((v) => v !== opts.rowsInput).map((name) => ({ name })),
  });
  const out = new Map<string, Measured>();
  const rowSize = opts.rowShape.reduce((s, d) => s * d, 1);
  const x = opts.probeRows.subarray(0, rows * rowSize);
  out.set(opts.rowsInput, { type: 'float32', dims: [rows, ...opts.rowShape], data: x });
  if (nodes.length === 0) return out;
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const result = await session.run({
      [opts.rowsInput]: new ort.Tensor('float32', x, [rows, ...opts.rowShape]),
    });
    for (const [name, t] of Object.entries(result)) {
      out.set(name, {
        type: t.type,
        dims: t.dims,
        data: t.type === 'float32' ? (t.data as Float32Array) : undefined,
      });
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Why a measured value cannot travel in the flat per-row cache, or undefined when it can. */
function unfit(one: Measured, two: Measured): string | undefined {
  if (one.type !== 'float32' || two.type !== 'float32') return `${one.type}, not float32`;
  if (one.dims[0] !== 1 || two.dims[0] !== 2)
    return `its first axis is not the batch (${one.dims.join('x')})`;
  if (one.dims.length !== two.dims.length || one.dims.some((d, i) => i > 0 && d !== two.dims[i])) {
    return 'its row shape depends on the batch size';
  }
  // Row 0 of a two-row batch must be the one-row result: a value that mixes rows cannot be cached per row.
  // (Kernels may block differently by batch size, so equality is up to float rounding.)
  const w = one.data!.length;
  for (let j = 0; j < w; j++) {
    const p = one.data![j]!;
    const q = two.data![j]!;
    if (!(Math.abs(p - q) <= 1e-4 * (1 + Math.abs(p)))) return 'it mixes the rows of a batch';
  }
  return undefined;
}

/**
 * Splits `bytes` at its frozen frontier (see the file comment). Returns the two graphs, or a reason when nothing
 * per-sample is frozen before the per-query inputs (the cut would be the rows themselves).
 */
export async function cutFrozenPrefix(bytes: Uint8Array, opts: CutOptions): Promise<CutResult> {
  const file = opts.file ?? '<onnx>';
  const model = decodeOnnxModel(bytes, file);
  const g = model.graph!;
  const opset = Number(
    model.opsetImport?.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version ?? 0,
  );
  if (opset < 10) return { reason: `opset ${opset} has no Slice with tensor inputs (need ≥ 10)` };
  if (!(g.input ?? []).some((i) => i.name === opts.rowsInput)) {
    throw new ModelError(`${file}: no input named '${opts.rowsInput}'`);
  }
  const rowSize = opts.rowShape.reduce((s, d) => s * d, 1);
  if (opts.probeRows.length < 2 * rowSize) {
    throw new RangeError(`cutFrozenPrefix: the probe needs 2 rows of ${rowSize} values`);
  }
  const nodes = g.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));

  // Measure the candidates; move the producers of unfit ones into the suffix and measure again. Each round moves
  // at least one node, so this ends; usually the first round fits.
  const moved = new Set<number>();
  let a: Analysis;
  let one: Map<string, Measured>;
  for (;;) {
    a = analyse(g, opts.rowsInput, moved);
    if (a.suffix.size === 0) return { reason: 'no node reads a per-query input' };
    if (a.cut.length === 0 || (a.cut.length === 1 && a.cut[0] === opts.rowsInput)) {
      return { reason: 'the per-query inputs are read straight from the rows: nothing frozen comes first' };
    }
    one = await probe(model, a, opts, 1);
    const two = await probe(model, a, opts, 2);
    const bad = a.cut.filter((v) => unfit(one.get(v)!, two.get(v)!) !== undefined);
    if (bad.length === 0) break;
    for (const v of bad) moved.add(producer.get(v)!);
  }
  if (a.prefix.size === 0) {
    return { reason: 'the per-query inputs are read straight from the rows: nothing frozen comes first' };
  }

  const used = graphValueNames(g);
  const fresh = freshNamer(used);
  let cutName = opts.cutName ?? 'flops_cut';
  if (used.has(cutName)) cutName = fresh(cutName);
  used.add(cutName);

  const values: CutValue[] = [];
  let width = 0;
  for (const name of a.cut) {
    const rowShape = one.get(name)!.dims.slice(1).map(Number);
    const w = rowShape.reduce((s, d) => s * d, 1);
    values.push({ name, rowShape, offset: width, width: w });
    width += w;
  }
  const floatInfo = (name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });

  // Prefix: the frozen nodes, then each cut value flattened to [rows, w] and concatenated along axis 1.
  const packing: NodeProto[] = [];
  const flat = values.map((v) => {
    const out = fresh('flops_flat');
    packing.push({ opType: 'Flatten', input: [v.name], output: [out], attribute: [attrInt('axis', 1)] });
    return out;
  });
  packing.push(
    flat.length === 1
      ? { opType: 'Identity', input: flat, output: [cutName] }
      : { opType: 'Concat', input: flat, output: [cutName], attribute: [attrInt('axis', 1)] },
  );
  const rowsInfo = (g.input ?? []).find((i) => i.name === opts.rowsInput)!;
  const prefixNodes = nodes.filter((_, i) => a.prefix.has(i));
  const prefix = subgraph(model, [...prefixNodes, ...packing], {
    input: [rowsInfo],
    output: [floatInfo(cutName, ['batch', width])],
  });

  // Suffix: each cut value sliced out of the flat row and reshaped back under its own name, then the suffix nodes.
  const unpacking: NodeProto[] = [];
  const consts: onnxProto.onnx.ITensorProto[] = [];
  const axes = fresh('flops_axes');
  consts.push({ name: axes, ...int64([1]) });
  for (const v of values) {
    const [starts, ends, shape, sliced] = [
      fresh('flops_starts'),
      fresh('flops_ends'),
      fresh('flops_shape'),
      fresh('flops_slice'),
    ];
    consts.push(
      { name: starts, ...int64([v.offset]) },
      { name: ends, ...int64([v.offset + v.width]) },
      { name: shape, ...int64([-1, ...v.rowShape]) },
    );
    unpacking.push(
      { opType: 'Slice', input: [cutName, starts, ends, axes], output: [sliced] },
      { opType: 'Reshape', input: [sliced, shape], output: [v.name] },
    );
  }
  const suffixNodes = nodes.filter((_, i) => a.suffix.has(i));
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const suffix = subgraph(
    model,
    [...unpacking, ...suffixNodes],
    {
      // Every per-query input stays, read or not: callers feed them all (ORT refuses feeds it does not declare).
      input: [
        floatInfo(cutName, ['batch', width]),
        ...(g.input ?? []).filter((i) => i.name !== opts.rowsInput && !inits.has(i.name ?? '')),
      ],
      output: g.output ?? [],
    },
    consts,
  );
  return {
    cut: {
      prefix,
      suffix,
      cutName,
      width,
      values,
      prefixNodes: prefixNodes.length,
      suffixNodes: suffixNodes.length,
    },
  };
}

function attrInt(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}
