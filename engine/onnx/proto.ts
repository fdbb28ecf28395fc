// Reading and extending a decoded ONNX model, shared by the rewrites of imported graphs (cut.ts, write-back.ts,
// table-graph.ts): decoding with the checks protobuf does not make, and new value names that cannot clash with the
// graph's own.
import onnxProto from 'onnx-proto';

import { FormatError } from '../errors.ts';

const { onnx } = onnxProto;

/** Decodes `bytes`; throws FormatError naming `file` unless they hold a graph with nodes and outputs. */
export function decodeOnnxModel(bytes: Uint8Array, file: string): onnxProto.onnx.ModelProto {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new FormatError(file, `not an ONNX model (${(cause as Error).message})`, { cause });
  }
  // Protobuf decodes many byte strings without complaint; a model must at least have nodes and outputs.
  if (!model.graph?.node?.length || !model.graph.output?.length) {
    throw new FormatError(file, 'not an ONNX model (no graph, nodes or outputs)');
  }
  return model;
}

/** Every value name the graph defines: its inputs, its initializers and its nodes' outputs. */
export function graphValueNames(g: onnxProto.onnx.IGraphProto): Set<string> {
  return new Set<string>([
    ...(g.input ?? []).map((i) => i.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ]);
}

/**
 * A namer: `prefix_<n>` with the first n (one counter across all prefixes) whose name is not in `used`, which
 * it adds there, so later names and names the caller adds to `used` never clash.
 */
export function freshNamer(used: Set<string>): (prefix: string) => string {
  let counter = 0;
  return (prefix) => {
    let name = `${prefix}_${counter++}`;
    while (used.has(name)) name = `${prefix}_${counter++}`;
    used.add(name);
    return name;
  };
}
