// What a run on an imported ONNX classifier trains and how the cached images reach its input, decided from the
// model bytes and the dataset alone (no ORT session): run/validate reports the plan's issues field by field, and the
// problem builder (problem-onnx.ts) builds from the same plan, so a run that validates is a run that builds.
import { readFile } from 'node:fs/promises';

import {
  findOutputLinear,
  listOnnxInitializers,
  onnxImageInput,
  onnxOutputClasses,
  type OutputLinear,
} from '../../engine/models/vit/onnx-import.ts';
import type { FieldIssue } from '../use-cases/validate.ts';
import type { RunMode } from './spec.ts';

export interface OnnxRunPlan {
  inputName: string;
  /** The input's shape after the batch axis, and the order the cache's HWC pixels are laid out in for it. */
  rowShape: number[];
  layout: 'nchw' | 'nhwc';
  /** Initializers trained, in θ order (the ONNX-graph case). */
  trainable: string[];
  /**
   * The head case: exactly the layer that writes the logits is trained. The frozen rest runs once per sample and
   * the layer is trained in TypeScript (SPSA or LR on the logits); a new head when its outputs are not the
   * dataset's classes.
   */
  head?: OutputLinear & { newHead: boolean };
  logits?: string;
}

export interface DatasetShape {
  height: number;
  width: number;
  channels: number;
  classes: number;
}

/** The input layouts we can feed, in preference order: NCHW (PyTorch exports), NHWC (TF), flat C·H·W. */
function inputLayout(
  rowShape: (number | null)[],
  d: DatasetShape,
): { rowShape: number[]; layout: 'nchw' | 'nhwc' } | undefined {
  const { height: H, width: W, channels: C } = d;
  const candidates: { shape: number[]; layout: 'nchw' | 'nhwc' }[] = [
    { shape: [C, H, W], layout: 'nchw' },
    { shape: [H, W, C], layout: 'nhwc' },
    { shape: [C * H * W], layout: 'nchw' },
  ];
  const fits = (shape: number[]) =>
    shape.length === rowShape.length && shape.every((n, i) => rowShape[i] === null || rowShape[i] === n);
  const hit = candidates.find((c) => fits(c.shape));
  return hit && { rowShape: hit.shape, layout: hit.layout };
}

/**
 * The plan for training `mode` of the ONNX model `bytes` on a dataset of this shape, or every issue by field.
 * `estimator` is checked too: LR needs the head case (noise on the logits).
 */
export function planOnnxRun(
  bytes: Uint8Array,
  file: string,
  mode: RunMode,
  data: DatasetShape,
  estimator: string | undefined,
): { plan: OnnxRunPlan; issues: [] } | { plan?: undefined; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  if (mode.kind !== 'onnx' && mode.kind !== 'head') {
    return {
      issues: [
        {
          field: 'mode.kind',
          message: `'${mode.kind}' is a ViT mode; an ONNX model trains {kind: 'onnx', trainable: [initializer names]} (or 'head': its output layer)`,
        },
      ],
    };
  }
  const onnxMode = mode.kind === 'onnx' ? mode : undefined;

  let input: ReturnType<typeof onnxImageInput>;
  try {
    input = onnxImageInput(bytes, { file, ...(onnxMode?.input ? { input: onnxMode.input } : {}) });
  } catch (error) {
    return {
      issues: [{ field: onnxMode?.input ? 'mode.input' : 'modelId', message: (error as Error).message }],
    };
  }
  const layout = inputLayout(input.rowShape, data);
  if (!layout) {
    const shape = input.rowShape.map((n) => n ?? '?').join('x');
    issues.push({
      field: 'datasetVersionId',
      message: `images are ${data.width}x${data.height}x${data.channels}; the model's input '${input.name}' takes ${shape} per row (import the dataset at the model's size)`,
    });
  }

  const logitsOpt = { file, ...(onnxMode?.logits ? { logits: onnxMode.logits } : {}) };
  let declared: number | undefined;
  try {
    declared = onnxOutputClasses(bytes, logitsOpt);
  } catch (error) {
    return { issues: [{ field: 'mode.logits', message: (error as Error).message }] };
  }
  const linear = findOutputLinear(bytes, logitsOpt);
  const inits = new Map(listOnnxInitializers(bytes, file).map((i) => [i.name, i]));
  let trainable: string[];
  if (onnxMode?.trainable) {
    trainable = onnxMode.trainable;
    const seen = new Set<string>();
    trainable.forEach((name, i) => {
      const info = inits.get(name);
      const field = `mode.trainable.${i}`;
      if (!info) {
        const some = [...inits.keys()].slice(0, 8).join(', ');
        issues.push({
          field,
          message: `no initializer '${name}' in ${file} (it has ${inits.size}${inits.size > 0 ? `: ${some}${inits.size > 8 ? ', ...' : ''}` : ''})`,
        });
      } else if (info.dtype !== 'FLOAT') {
        issues.push({
          field,
          message: `initializer '${name}' is ${info.dtype}; only FLOAT initializers train`,
        });
      } else if (seen.has(name)) {
        issues.push({ field, message: `initializer '${name}' is named twice` });
      }
      seen.add(name);
    });
  } else if (linear) {
    trainable = [linear.weight, ...(linear.bias ? [linear.bias] : [])];
  } else {
    trainable = [];
    issues.push({
      field: 'mode.trainable',
      message: `the logits of ${file} do not come straight from a Gemm/MatMul layer with initializer weights; name the initializers to train`,
    });
  }

  // The head case: the trained set is exactly the output layer (weight, and bias when it has one).
  const isHead =
    linear !== undefined &&
    new Set(trainable).size === trainable.length &&
    trainable.length === (linear.bias ? 2 : 1) &&
    trainable.includes(linear.weight) &&
    (!linear.bias || trainable.includes(linear.bias));
  const outputs = linear?.outDim ?? declared;
  if (!isHead) {
    if (estimator === 'lr') {
      issues.push({
        field: 'train.estimator',
        message: `LR on an ONNX model adds its noise to the logits, so it trains the output layer only (${linear ? [linear.weight, linear.bias].filter(Boolean).join(', ') : 'none found'}); use SPSA or ES for other initializers`,
      });
    }
    if (outputs !== undefined && outputs !== data.classes) {
      issues.push({
        field: 'datasetVersionId',
        message: `the model has ${outputs} outputs and the dataset ${data.classes} classes; train the output layer (the default) to get a new head`,
      });
    }
  }
  if (issues.length > 0 || !layout) return { issues };
  return {
    plan: {
      inputName: input.name,
      rowShape: layout.rowShape,
      layout: layout.layout,
      trainable,
      ...(isHead ? { head: { ...linear, newHead: linear.outDim !== data.classes } } : {}),
      ...(onnxMode?.logits ? { logits: onnxMode.logits } : {}),
    },
    issues: [],
  };
}

/** run/validate's check of an ONNX run: reads the model file and returns the plan's issues ([] when it builds). */
export async function onnxRunIssues(
  file: string,
  mode: RunMode,
  data: DatasetShape,
  estimator: string,
): Promise<FieldIssue[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
    return planOnnxRun(bytes, file, mode, data, estimator).issues;
  } catch (error) {
    return [{ field: 'modelId', message: (error as Error).message }];
  }
}
