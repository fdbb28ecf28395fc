// The 'table'-direction variant of a model graph (engine/estimators/directions.ts). The trainable inputs are
// replaced by one flat `theta` [d], and G perturbations are evaluated in ONE run: inputs `eps` [G] and `offset`
// [G] (int64), output `losses` [G, rows], row g at w_g = theta + eps_g·table[offset_g : offset_g + d]. The noise
// table is an initializer. A Scan over the G (eps, offset) pairs runs the original graph as its body, with
// w_g sliced and reshaped into the tensors the model consumed as inputs, so θ ± εz and the G forwards run in
// native code, and JS pays one session.run (not 2K) per group of SPSA directions.
import onnxProto from 'onnx-proto';

import { ModelError } from '../errors.ts';
import { freshNamer, graphValueNames } from './proto.ts';
import type { ParamLayout } from './session.ts';

const { onnx } = onnxProto;

export interface TableGraphNames {
  theta: string;
  eps: string;
  offset: string;
}

export const TABLE_GRAPH_NAMES: TableGraphNames & { losses: string } = {
  theta: 'table_theta',
  eps: 'table_eps',
  offset: 'table_offset',
  losses: 'table_losses',
};

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function int64Init(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  const data = BigInt64Array.from(values.map(BigInt));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

function vector(name: string, type: number, size: number): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: type, shape: { dim: [{ dimValue: size }] } } } };
}

function scalarInfo(name: string, type: number): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: type, shape: { dim: [] } } } };
}

/**
 * The Scan node both rewrites run `body` in: Scan state first (`state`, carried from step to step), then the two
 * scanned inputs (eps and offset, one element per step), as ONNX orders a Scan's inputs.
 */
function scanOverDirections(
  name: string,
  body: onnxProto.onnx.IGraphProto,
  state: string[],
  scanned: [string, string],
  output: string[],
): onnxProto.onnx.INodeProto {
  return {
    opType: 'Scan',
    input: [...state, ...scanned],
    output,
    name,
    domain: '',
    attribute: [
      { name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body },
      { name: 'num_scan_inputs', type: onnx.AttributeProto.AttributeType.INT, i: scanned.length },
    ],
  };
}

/** Decodes a model for either table rewrite, checking it has `layout`'s trainable inputs and the loss output. */
function decodeTableInput(bytes: Uint8Array, layout: ParamLayout, table: Float32Array, lossName: string) {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new ModelError('table graph: the model has no graph');
  const d = layout.size;
  if (table.length < d) throw new ModelError(`table graph: ${table.length} table values for ${d} parameters`);
  const trainable = new Set(layout.specs.map((s) => s.name));
  const inputs = graph.input ?? [];
  const missing = [...trainable].filter((n) => !inputs.some((i) => i.name === n));
  if (missing.length > 0)
    throw new ModelError(`table graph: model lacks trainable inputs ${missing.join(', ')}`);
  const lossInfo = (graph.output ?? []).find((o) => o.name === lossName);
  if (!lossInfo) throw new ModelError(`table graph: model has no output ${lossName}`);
  return { model, graph, d, trainable, inputs, lossInfo };
}

/**
 * A namer for the values a rewrite adds to `graph`, after claiming `fixed` (the rewrite's own input and output
 * names, which callers feed and read by name): throws if the model already uses one of them.
 */
function namesBeside(
  graph: onnxProto.onnx.IGraphProto,
  fixed: readonly string[],
): (prefix: string) => string {
  const used = graphValueNames(graph);
  const fresh = freshNamer(used);
  for (const n of fixed) {
    if (used.has(n)) throw new ModelError(`table graph: the model already has a value named ${n}`);
    used.add(n);
  }
  return fresh;
}

/** Rewrites `bytes` (a model whose trainable tensors are the inputs of `layout`) into its table variant. */
export function buildTableGraph(
  bytes: Uint8Array,
  layout: ParamLayout,
  table: Float32Array,
  lossName: string,
): Uint8Array {
  const { model, graph, d, trainable, inputs, lossInfo } = decodeTableInput(bytes, layout, table, lossName);

  const { theta, eps, offset, losses } = TABLE_GRAPH_NAMES;
  const fresh = namesBeside(graph, [theta, eps, offset, losses]);

  const tableName = fresh('noise_table');
  const inits: onnxProto.onnx.ITensorProto[] = [
    {
      name: tableName,
      dims: [table.length],
      dataType: FLOAT,
      rawData: new Uint8Array(table.buffer, table.byteOffset, table.byteLength),
    },
  ];
  // The Scan body: per iteration a scalar eps_g and offset_g; theta, the table, x, y and the model's
  // initializers are outer-scope values.
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const node = (op: string, ins: string[], out: string = fresh(op.toLowerCase())): string => {
    nodes.push({ opType: op, input: ins, output: [out], name: fresh(`table_${op}`), domain: '' });
    return out;
  };
  const constant = (values: number[]): string => {
    const name = fresh('table_const');
    inits.push(int64Init(name, values));
    return name;
  };
  const epsG = fresh('eps_g');
  const offG = fresh('offset_g');
  const start0 = node('Reshape', [offG, constant([1])]);
  const end = node('Add', [start0, constant([d])]);
  const window = node('Slice', [tableName, start0, end]);
  const w = node('Add', [theta, node('Mul', [window, epsG])]);
  for (const spec of layout.specs) {
    const start = layout.offset(spec.name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const flat = node('Slice', [w, constant([start]), constant([start + size])]);
    node('Reshape', [flat, constant(spec.shape)], spec.name);
  }
  const body: onnxProto.onnx.IGraphProto = {
    name: `${graph.name ?? 'model'}_table_body`,
    node: [...nodes, ...(graph.node ?? [])],
    input: [scalarInfo(epsG, FLOAT), scalarInfo(offG, INT64)],
    output: [lossInfo],
  };

  const scan = scanOverDirections(fresh('table_Scan'), body, [], [eps, offset], [losses]);
  const groups = 'groups';
  graph.input = [
    ...inputs.filter((i) => !trainable.has(i.name ?? '')),
    vector(theta, FLOAT, d),
    { name: eps, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: groups }] } } } },
    { name: offset, type: { tensorType: { elemType: INT64, shape: { dim: [{ dimParam: groups }] } } } },
  ];
  const rowsDim = lossInfo.type?.tensorType?.shape?.dim?.[0] ?? { dimParam: 'rows' };
  graph.output = [
    {
      name: losses,
      type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: groups }, rowsDim] } } },
    },
  ];
  graph.initializer = [...(graph.initializer ?? []), ...inits];
  graph.node = [scan];
  return onnx.ModelProto.encode(model).finish();
}

// --- The pair variant: both signs of a direction per Scan iteration ---------------------------------------------
//
// SPSA's groups always come in central-difference pairs (θ + εz_k, θ − εz_k). The pair variant iterates over
// directions, not groups, and shares what the two signs have in common:
// - the window is sliced per trainable tensor straight from the table and scaled by ε once; θ's tensors stay the
//   model's own inputs (fed as zero-copy views), so w± = θ_t ± ε·z_t costs one Add and one Sub per tensor.
//   The flat variant above sliced the window, scaled it, added θ and then sliced w into tensors: about three
//   times the memory traffic per perturbation, which on the 109k-parameter bench MLP cost 2/3 of a forward run;
// - nodes that do not depend on a trainable tensor (label reshapes, constants) run once, before the Scan;
// - linearity of the first layers: a Gemm whose data input A does not depend on θ satisfies
//   Gemm(A, W ± εZ, c ± εz_c) = Gemm(A, W, c) ± ε·Gemm(A, Z, z_c). Gemm(A, W, c) runs once before the Scan and
//   Gemm(A, Z, z_c) once per direction for both signs, so such a layer costs one product per direction instead
//   of two. On an MLP that is the input layer, ~90% of the multiply-adds. The losses equal the flat variant's up
//   to float32 rounding (the perturbation is added after the product instead of before: if anything, ε·Z
//   survives the rounding of W + εZ better this way).
// Nodes with subgraphs (If, Loop, Scan) are not rewritten: buildTablePairGraph returns undefined and the caller
// uses the flat variant.

export const TABLE_PAIR_NAMES = {
  eps: 'table_pair_eps',
  offset: 'table_pair_offset',
  losses: 'table_pair_losses',
} as const;

// --- The gradient option: SPSA's combine ĝ += Σ_k s_k·z_k inside the Scan -------------------------------------
//
// With `gradient: true` the pair variant also forms the SPSA scalars and accumulates ĝ from the window slices the
// perturbation already made, instead of JS re-reading K random 437 KB windows of the 16 MiB table after the run.
// On the bench MLP (K = 10) that costs the run ~1.2 ms of CPU against 1.4–2.4 ms for the float64 JS pass: ORT
// still materialises s_k·z_t and the new state as tensors (decision 13). Per direction k:
//   s_k = Cast<float>( ReduceSum_r( ((double)ℓ⁺_r − (double)ℓ⁻_r) / twoEps / counts_r ) / batch )
//   ĝ_t ← ĝ_t + s_k·z_{k,t}   per trainable tensor t, float32 Mul then Add (each rounded once, IEEE)
// s_k is computed in double like estimateSpsa's scalarOf (only the order of the row sum may differ, so the
// float32 result agrees except at rare rounding ties), and the update is exactly accumulateTableWindows
// (engine/estimators/directions.ts) applied to these scalars: ĝ replays bit for bit from the stored scalars.
// ĝ enters as `gradIn` [d] (so calls over successive groups of directions continue one accumulation), is carried
// per tensor as Scan state and leaves as `grad` [d].

export const TABLE_PAIR_GRADIENT_NAMES = {
  gradIn: 'table_pair_grad_in',
  counts: 'table_pair_counts',
  twoEps: 'table_pair_two_eps',
  batch: 'table_pair_batch',
  grad: 'table_pair_grad',
  scalars: 'table_pair_scalars',
} as const;

export interface TablePairOptions {
  /** Also form the SPSA scalars and accumulate ĝ in the Scan (see above). */
  gradient?: boolean;
}

const DOUBLE = onnx.TensorProto.DataType.DOUBLE;

function attr(n: onnxProto.onnx.INodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

function intAttr(n: onnxProto.onnx.INodeProto, name: string, dflt: number): number {
  const a = attr(n, name);
  return a?.i === undefined || a.i === null ? dflt : Number(a.i);
}

function floatAttr(n: onnxProto.onnx.INodeProto, name: string, dflt: number): number {
  const a = attr(n, name);
  return a?.f === undefined || a.f === null ? dflt : a.f;
}

/**
 * The pair variant of `bytes` (see above): inputs are the model's non-trainable inputs, its trainable tensors
 * under their own names, `eps` [K] and `offset` [K] (int64); output `losses` [K, 2, rows] with [k, 0] at
 * θ + eps_k·z_k and [k, 1] at θ − eps_k·z_k, z_k = table[offset_k : offset_k + d] in layout order. Undefined when
 * the graph has nodes this rewrite does not handle.
 */
export function buildTablePairGraph(
  bytes: Uint8Array,
  layout: ParamLayout,
  table: Float32Array,
  lossName: string,
  options: TablePairOptions = {},
): Uint8Array | undefined {
  const { model, graph, d, trainable, inputs, lossInfo } = decodeTableInput(bytes, layout, table, lossName);
  const original = graph.node ?? [];
  if (original.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)))
    return undefined;
  // Unsqueeze takes its axes as an input from opset 13 on; older models keep the flat variant.
  const opset = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '')?.version;
  if (opset === undefined || opset === null || Number(opset) < 13) return undefined;

  const { eps, offset, losses } = TABLE_PAIR_NAMES;
  const gradient = options.gradient === true;
  // The flat ĝ is cut into and concatenated from the tensors in offset order: they must tile [0, d).
  const ordered = [...layout.specs].sort((a, b) => layout.offset(a.name) - layout.offset(b.name));
  if (gradient) {
    let end = 0;
    for (const spec of ordered) {
      if (layout.offset(spec.name) !== end) return undefined;
      end += spec.shape.reduce((a, b) => a * b, 1);
    }
    if (end !== d) return undefined;
  }
  const G = TABLE_PAIR_GRADIENT_NAMES;
  const fresh = namesBeside(graph, [eps, offset, losses, ...(gradient ? Object.values(G) : [])]);

  // Which values depend on θ: the trainable inputs and everything computed from them.
  const dependent = new Set<string>(trainable);
  const isDependent = (n: onnxProto.onnx.INodeProto) => (n.input ?? []).some((i) => dependent.has(i));
  for (const n of original) if (isDependent(n)) for (const o of n.output ?? []) dependent.add(o);
  if (!dependent.has(lossName)) throw new ModelError(`table graph: ${lossName} does not depend on θ`);
  const size = (name: string) => layout.specs.find((s) => s.name === name)!.shape.reduce((a, b) => a * b, 1);
  const shape = (name: string) => layout.specs.find((s) => s.name === name)!.shape;

  const outerNodes: onnxProto.onnx.INodeProto[] = [];
  const bodyNodes: onnxProto.onnx.INodeProto[] = [];
  const inits: onnxProto.onnx.ITensorProto[] = [];
  const emit = (
    into: onnxProto.onnx.INodeProto[],
    op: string,
    ins: string[],
    attrs: onnxProto.onnx.IAttributeProto[] = [],
    out: string = fresh(`pair_${op.toLowerCase()}`),
  ): string => {
    into.push({
      opType: op,
      input: ins,
      output: [out],
      name: fresh(`table_pair_${op}`),
      domain: '',
      attribute: attrs,
    });
    return out;
  };
  const constant = (values: number[]): string => {
    const name = fresh('table_pair_const');
    inits.push(int64Init(name, values));
    return name;
  };
  const tableName = fresh('noise_table');
  inits.push({
    name: tableName,
    dims: [table.length],
    dataType: FLOAT,
    rawData: new Uint8Array(table.buffer, table.byteOffset, table.byteLength),
  });

  // Gemms linear in θ with a θ-free data input, with the default alpha/beta/transA (the only form rewritten).
  const linearGemms = new Set(
    original.filter((n) => {
      if (n.opType !== 'Gemm' || (n.domain ?? '') !== '') return false;
      const [a, b, c] = n.input ?? [];
      if (a === undefined || b === undefined || dependent.has(a) || !trainable.has(b)) return false;
      if (c !== undefined && c !== '' && dependent.has(c) && !trainable.has(c)) return false;
      return intAttr(n, 'transA', 0) === 0 && floatAttr(n, 'alpha', 1) === 1 && floatAttr(n, 'beta', 1) === 1;
    }),
  );

  // Body inputs and the shared per-direction pieces.
  const epsK = fresh('eps_k');
  const offK = fresh('offset_k');
  const start0 = emit(bodyNodes, 'Reshape', [offK, constant([1])]);
  const flatOf = new Map<string, string>();
  const zOf = new Map<string, string>();
  /** z_{k,t} as a flat slice of the table (shared by the perturbation and the ĝ update). */
  const flatWindowOf = (t: string): string => {
    let z = flatOf.get(t);
    if (z === undefined) {
      const from = emit(bodyNodes, 'Add', [start0, constant([layout.offset(t)])]);
      const to = emit(bodyNodes, 'Add', [from, constant([size(t)])]);
      z = emit(bodyNodes, 'Slice', [tableName, from, to]);
      flatOf.set(t, z);
    }
    return z;
  };
  const windowOf = (t: string): string => {
    let z = zOf.get(t);
    if (z === undefined) {
      z = emit(bodyNodes, 'Reshape', [flatWindowOf(t), constant(shape(t))]);
      zOf.set(t, z);
    }
    return z;
  };
  // Per sign: the value that replaces each dependent name in that sign's copy of the graph.
  const plus = new Map<string, string>();
  const minus = new Map<string, string>();
  for (const n of original) {
    if (!linearGemms.has(n)) continue;
    const [a, b, c] = n.input as string[];
    const transB = intAttr(n, 'transB', 0);
    const cTrainable = c !== undefined && c !== '' && trainable.has(c);
    const base = emit(
      outerNodes,
      'Gemm',
      (n.input ?? []).filter((v) => v !== ''),
      [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: transB }],
    );
    const u = emit(bodyNodes, 'Gemm', cTrainable ? [a!, windowOf(b!), windowOf(c!)] : [a!, windowOf(b!)], [
      { name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: transB },
    ]);
    const eu = emit(bodyNodes, 'Mul', [u, epsK]);
    const out = n.output![0]!;
    plus.set(out, emit(bodyNodes, 'Add', [base, eu]));
    minus.set(out, emit(bodyNodes, 'Sub', [base, eu]));
  }
  // θ_t ± ε·z_t for every trainable tensor some other dependent node still reads.
  const readers = original.filter((n) => isDependent(n) && !linearGemms.has(n));
  for (const t of layout.specs.map((s) => s.name)) {
    if (!readers.some((n) => (n.input ?? []).includes(t))) continue;
    const ez = emit(bodyNodes, 'Mul', [windowOf(t), epsK]);
    plus.set(t, emit(bodyNodes, 'Add', [t, ez]));
    minus.set(t, emit(bodyNodes, 'Sub', [t, ez]));
  }
  for (const [map, tag] of [
    [plus, 'p'],
    [minus, 'm'],
  ] as const) {
    for (const n of readers) {
      const outs = (n.output ?? []).map((o) => {
        const renamed = fresh(`${o}_${tag}`);
        map.set(o, renamed);
        return renamed;
      });
      bodyNodes.push({
        ...n,
        input: (n.input ?? []).map((i) => map.get(i) ?? i),
        output: outs,
        name: fresh(`${n.name ?? n.opType ?? 'node'}_${tag}`),
      });
    }
  }
  outerNodes.unshift(...original.filter((n) => !isDependent(n)));
  const pair = emit(
    bodyNodes,
    'Concat',
    [
      emit(bodyNodes, 'Unsqueeze', [plus.get(lossName)!, constant([0])]),
      emit(bodyNodes, 'Unsqueeze', [minus.get(lossName)!, constant([0])]),
    ],
    [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
  );
  const rowsDim = lossInfo.type?.tensorType?.shape?.dim?.[0] ?? { dimParam: 'rows' };
  const pairInfo = {
    name: pair,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 2 }, rowsDim] } } },
  };
  // Gradient option: loop state ĝ_t per tensor (Scan state inputs come first, then the scanned eps and offset).
  const stateIn: onnxProto.onnx.IValueInfoProto[] = [];
  const stateOut: onnxProto.onnx.IValueInfoProto[] = [];
  const stateInit: string[] = [];
  const stateFinal: string[] = [];
  const extraOut: onnxProto.onnx.IValueInfoProto[] = [];
  const scanExtra: string[] = [];
  if (gradient) {
    const intAttrOf = (name: string, i: number) => ({
      name,
      type: onnx.AttributeProto.AttributeType.INT,
      i,
    });
    const toDouble = (v: string) => emit(bodyNodes, 'Cast', [v], [intAttrOf('to', DOUBLE)]);
    // Same operations as estimateSpsa's scalarOf: δ_r = (ℓ⁺ − ℓ⁻)/(2ε), Σ_r δ_r/n_r, then /B, in double.
    const diff = emit(bodyNodes, 'Sub', [toDouble(plus.get(lossName)!), toDouble(minus.get(lossName)!)]);
    const perRow = emit(bodyNodes, 'Div', [emit(bodyNodes, 'Div', [diff, G.twoEps]), G.counts]);
    const sum = emit(bodyNodes, 'ReduceSum', [perRow], [intAttrOf('keepdims', 0)]);
    const sK = emit(bodyNodes, 'Cast', [emit(bodyNodes, 'Div', [sum, G.batch])], [intAttrOf('to', FLOAT)]);
    for (const spec of ordered) {
      const t = spec.name;
      const n = size(t);
      const accIn = fresh(`grad_${t}_in`);
      const accOut = emit(bodyNodes, 'Add', [accIn, emit(bodyNodes, 'Mul', [flatWindowOf(t), sK])]);
      stateIn.push(vector(accIn, FLOAT, n));
      stateOut.push(vector(accOut, FLOAT, n));
      const from = layout.offset(t);
      stateInit.push(emit(outerNodes, 'Slice', [G.gradIn, constant([from]), constant([from + n])]));
      stateFinal.push(fresh(`grad_${t}_final`));
    }
    extraOut.push(scalarInfo(sK, FLOAT));
    scanExtra.push(G.scalars);
  }
  const body: onnxProto.onnx.IGraphProto = {
    name: `${graph.name ?? 'model'}_table_pair_body`,
    node: bodyNodes,
    input: [...stateIn, scalarInfo(epsK, FLOAT), scalarInfo(offK, INT64)],
    output: [...stateOut, pairInfo, ...extraOut],
  };
  const scan = scanOverDirections(
    fresh('table_pair_Scan'),
    body,
    stateInit,
    [eps, offset],
    [...stateFinal, losses, ...scanExtra],
  );
  const groups = 'directions';
  graph.input = [
    ...inputs,
    { name: eps, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: groups }] } } } },
    { name: offset, type: { tensorType: { elemType: INT64, shape: { dim: [{ dimParam: groups }] } } } },
    ...(gradient
      ? [
          vector(G.gradIn, FLOAT, d),
          { name: G.counts, type: { tensorType: { elemType: DOUBLE, shape: { dim: [rowsDim] } } } },
          scalarInfo(G.twoEps, DOUBLE),
          scalarInfo(G.batch, DOUBLE),
        ]
      : []),
  ];
  graph.output = [
    {
      name: losses,
      type: {
        tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: groups }, { dimValue: 2 }, rowsDim] } },
      },
    },
    ...(gradient
      ? [
          vector(G.grad, FLOAT, d),
          {
            name: G.scalars,
            type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: groups }] } } },
          },
        ]
      : []),
  ];
  const finalNodes: onnxProto.onnx.INodeProto[] = [];
  if (gradient) {
    emit(
      finalNodes,
      'Concat',
      stateFinal,
      [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      G.grad,
    );
  }
  graph.initializer = [...(graph.initializer ?? []), ...inits];
  graph.node = [...outerNodes, scan, ...finalNodes];
  return onnx.ModelProto.encode(model).finish();
}
