// The 'table'-direction variant of a model graph (engine/estimators/directions.ts). The trainable inputs are
// replaced by one flat `theta` [d], and G perturbations are evaluated in ONE run: inputs `eps` [G] and `offset`
// [G] (int64), output `losses` [G, rows], row g at w_g = theta + eps_g·table[offset_g : offset_g + d]. The noise
// table is an initializer. A Scan over the G (eps, offset) pairs runs the original graph as its body, with
// w_g sliced and reshaped into the tensors the model consumed as inputs, so θ ± εz and the G forwards run in
// native code, and JS pays one session.run (not 2K) per group of SPSA directions.
import onnxProto from 'onnx-proto';

import { ModelError } from '../errors.ts';
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

/** Rewrites `bytes` (a model whose trainable tensors are the inputs of `layout`) into its table variant. */
export function buildTableGraph(
  bytes: Uint8Array,
  layout: ParamLayout,
  table: Float32Array,
  lossName: string,
): Uint8Array {
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

  const used = new Set<string>();
  for (const i of inputs) used.add(i.name ?? '');
  for (const t of graph.initializer ?? []) used.add(t.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) used.add(o);
  let counter = 0;
  const fresh = (prefix: string): string => {
    let name = `${prefix}_${counter++}`;
    while (used.has(name)) name = `${prefix}_${counter++}`;
    used.add(name);
    return name;
  };
  const { theta, eps, offset, losses } = TABLE_GRAPH_NAMES;
  for (const n of [theta, eps, offset, losses]) {
    if (used.has(n)) throw new ModelError(`table graph: the model already has a value named ${n}`);
    used.add(n);
  }

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

  const scan: onnxProto.onnx.INodeProto = {
    opType: 'Scan',
    input: [eps, offset],
    output: [losses],
    name: fresh('table_Scan'),
    domain: '',
    attribute: [
      { name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body },
      { name: 'num_scan_inputs', type: onnx.AttributeProto.AttributeType.INT, i: 2 },
    ],
  };
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
