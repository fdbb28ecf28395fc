// Oracles over ONNX Runtime sessions: what the estimators see of a model. The batch lives here; each call
// gathers the requested rows (indices into the batch, repeats allowed) into a reusable buffer, feeds theta's
// tensors as views of the caller's vector (zero copy) and lets ORT write the per-row losses straight into the
// caller's output array (preallocated output), so a query batch allocates nothing but small Tensor wrappers.
import * as ort from 'onnxruntime-node';

import { ModelError } from '../errors.ts';
import type { FeatureOracle, LossOracle } from '../oracle.ts';
import { ParamFeeds, runInto, type ParamLayout } from './session.ts';

/** Names and sizes of a classifier graph's inputs and outputs (ModelGraph satisfies this). */
export interface ClassifierIo {
  inputName: string;
  labelName: string;
  lossName: string;
  logitsName: string;
  inDim: number;
  numClasses: number;
}

export interface OracleOptions {
  /** Most rows per ORT run; larger requests run in chunks (bounds activation memory). Default 4096. */
  maxRowsPerRun?: number;
}

function checkSessionHas(session: ort.InferenceSession, inputs: string[], outputs: string[]): void {
  const missingIn = inputs.filter((n) => !session.inputNames.includes(n));
  const missingOut = outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length > 0 || missingOut.length > 0) {
    throw new ModelError(
      `model lacks ${[...missingIn.map((n) => `input ${n}`), ...missingOut.map((n) => `output ${n}`)].join(', ')}`,
    );
  }
}

/** Rows gathered from the batch into reusable buffers; contiguous ranges are passed as views, not copied. */
export class RowGather {
  #x: Float32Array = new Float32Array(0);
  #y: BigInt64Array = new BigInt64Array(0);

  constructor(readonly inDim: number) {}

  gather(
    x: Float32Array,
    y: BigInt64Array | undefined,
    batchSize: number,
    rows: Int32Array,
  ): { x: Float32Array; y: BigInt64Array } {
    const n = rows.length;
    const d = this.inDim;
    let contiguous = true;
    for (let j = 0; j < n; j++) {
      const r = rows[j]!;
      if (!(r >= 0 && r < batchSize)) throw new RangeError(`row ${r} is outside the batch [0, ${batchSize})`);
      if (r !== rows[0]! + j) contiguous = false;
    }
    if (n > 0 && contiguous) {
      const r0 = rows[0]!;
      return { x: x.subarray(r0 * d, (r0 + n) * d), y: y ? y.subarray(r0, r0 + n) : this.#labels(n) };
    }
    if (this.#x.length < n * d) this.#x = new Float32Array(n * d);
    const xs = this.#x.subarray(0, n * d);
    for (let j = 0; j < n; j++) {
      const r = rows[j]!;
      xs.set(x.subarray(r * d, r * d + d), j * d);
    }
    const ys = this.#labels(n);
    if (y) for (let j = 0; j < n; j++) ys[j] = y[rows[j]!]!;
    return { x: xs, y: ys };
  }

  /** A label buffer of n rows (zeros unless overwritten). */
  #labels(n: number): BigInt64Array {
    if (this.#y.length < n) this.#y = new BigInt64Array(n);
    return this.#y.subarray(0, n);
  }
}

function checkBatch(x: Float32Array, inDim: number, y?: { length: number }): number {
  if (x.length % inDim !== 0)
    throw new RangeError(`batch x has ${x.length} values, not a multiple of ${inDim}`);
  const rows = x.length / inDim;
  if (y && y.length !== rows) throw new RangeError(`batch has ${rows} rows of x but ${y.length} labels`);
  return rows;
}

/** LossOracle over a classifier session whose trainable tensors are graph inputs. */
export class OnnxLossOracle implements LossOracle {
  readonly #feeds: ParamFeeds;
  readonly #gather: RowGather;
  readonly #maxRows: number;
  #x: Float32Array = new Float32Array(0);
  #y: BigInt64Array = new BigInt64Array(0);
  #batchSize = 0;

  constructor(
    readonly session: ort.InferenceSession,
    readonly io: ClassifierIo,
    layout: ParamLayout,
    options: OracleOptions = {},
  ) {
    checkSessionHas(session, [io.inputName, io.labelName, ...layout.specs.map((s) => s.name)], [io.lossName]);
    this.#feeds = new ParamFeeds(layout);
    this.#gather = new RowGather(io.inDim);
    this.#maxRows = options.maxRowsPerRun ?? 4096;
  }

  get batchSize(): number {
    return this.#batchSize;
  }

  /** Sets the current batch: x row-major [B, inDim], y [B]. The arrays are kept by reference, not copied. */
  setBatch(x: Float32Array, y: BigInt64Array): void {
    this.#batchSize = checkBatch(x, this.io.inDim, y);
    this.#x = x;
    this.#y = y;
  }

  async losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    if (out.length < rows.length) throw new RangeError(`out has ${out.length} slots for ${rows.length} rows`);
    const params = this.#feeds.feeds(theta);
    const { inputName, labelName, lossName, inDim } = this.io;
    for (let start = 0; start < rows.length; start += this.#maxRows) {
      const chunk = rows.subarray(start, Math.min(rows.length, start + this.#maxRows));
      const n = chunk.length;
      const { x, y } = this.#gather.gather(this.#x, this.#y, this.#batchSize, chunk);
      await runInto(
        this.session,
        {
          ...params,
          [inputName]: new ort.Tensor('float32', x, [n, inDim]),
          [labelName]: new ort.Tensor('int64', y, [n]),
        },
        { [lossName]: new ort.Tensor('float32', out.subarray(start, start + n), [n]) },
      );
    }
  }
}

/** Names and sizes of a frozen-prefix graph (FeatureGraph satisfies this). */
export interface FeatureIo {
  inputName: string;
  outputName: string;
  inDim: number;
  featureDim: number;
}

/** FeatureOracle over a frozen-prefix session (x → features), for LR at the head. */
export class OnnxFeatureOracle implements FeatureOracle {
  readonly #gather: RowGather;
  readonly #maxRows: number;
  #x: Float32Array = new Float32Array(0);
  #y: Int32Array = new Int32Array(0);
  #batchSize = 0;

  constructor(
    readonly session: ort.InferenceSession,
    readonly io: FeatureIo,
    options: OracleOptions = {},
  ) {
    checkSessionHas(session, [io.inputName], [io.outputName]);
    this.#gather = new RowGather(io.inDim);
    this.#maxRows = options.maxRowsPerRun ?? 4096;
  }

  get batchSize(): number {
    return this.#batchSize;
  }

  get featureDim(): number {
    return this.io.featureDim;
  }

  /** Sets the current batch: x row-major [B, inDim], labels [B] (any integer array). x is kept by reference. */
  setBatch(x: Float32Array, labels: ArrayLike<number | bigint>): void {
    this.#batchSize = checkBatch(x, this.io.inDim, labels);
    this.#x = x;
    this.#y = Int32Array.from({ length: labels.length }, (_, i) => Number(labels[i]!));
  }

  /** Features of the rows, row-major [rows, featureDim], in a fresh array that ORT writes into directly. */
  async features(rows: Int32Array): Promise<Float32Array> {
    const { inputName, outputName, inDim, featureDim } = this.io;
    const out = new Float32Array(rows.length * featureDim);
    for (let start = 0; start < rows.length; start += this.#maxRows) {
      const chunk = rows.subarray(start, Math.min(rows.length, start + this.#maxRows));
      const n = chunk.length;
      const { x } = this.#gather.gather(this.#x, undefined, this.#batchSize, chunk);
      await runInto(
        this.session,
        { [inputName]: new ort.Tensor('float32', x, [n, inDim]) },
        {
          [outputName]: new ort.Tensor(
            'float32',
            out.subarray(start * featureDim, (start + n) * featureDim),
            [n, featureDim],
          ),
        },
      );
    }
    return out;
  }

  labels(rows: Int32Array): Int32Array {
    const out = new Int32Array(rows.length);
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j]!;
      if (!(r >= 0 && r < this.#batchSize))
        throw new RangeError(`row ${r} is outside the batch [0, ${this.#batchSize})`);
      out[j] = this.#y[r]!;
    }
    return out;
  }
}

export interface PredictOptions {
  io: ClassifierIo;
  /** The trainable tensors, when the graph takes them as inputs. */
  params?: { layout: ParamLayout; theta: Float32Array };
  /** Labels: with them the result has accuracy and mean loss. */
  labels?: BigInt64Array;
  /** Rows per ORT run (default 1024). */
  chunkRows?: number;
}

export interface PredictResult {
  /** Row-major [rows, numClasses]. */
  logits: Float32Array;
  /** argmax of each row's logits. */
  predictions: Int32Array;
  accuracy?: number;
  meanLoss?: number;
}

/** Logits (and with labels, accuracy and mean CE) of every row of x, run in chunks. */
export async function predict(
  session: ort.InferenceSession,
  x: Float32Array,
  options: PredictOptions,
): Promise<PredictResult> {
  const { io, labels } = options;
  const rows = checkBatch(x, io.inDim, labels);
  const feedsLabels = session.inputNames.includes(io.labelName);
  const params = options.params ? new ParamFeeds(options.params.layout).feeds(options.params.theta) : {};
  const chunkRows = options.chunkRows ?? 1024;
  const logits = new Float32Array(rows * io.numClasses);
  const losses = labels && feedsLabels ? new Float32Array(rows) : undefined;
  // Without labels the graph still needs a y input for its loss branch; zeros are valid class indices.
  const zeros = new BigInt64Array(Math.min(rows, chunkRows));
  for (let start = 0; start < rows; start += chunkRows) {
    const n = Math.min(chunkRows, rows - start);
    const feeds: Record<string, ort.Tensor> = {
      ...params,
      [io.inputName]: new ort.Tensor('float32', x.subarray(start * io.inDim, (start + n) * io.inDim), [
        n,
        io.inDim,
      ]),
    };
    if (feedsLabels) {
      feeds[io.labelName] = new ort.Tensor(
        'int64',
        labels ? labels.subarray(start, start + n) : zeros.subarray(0, n),
        [n],
      );
    }
    const outputs: Record<string, ort.Tensor> = {
      [io.logitsName]: new ort.Tensor(
        'float32',
        logits.subarray(start * io.numClasses, (start + n) * io.numClasses),
        [n, io.numClasses],
      ),
    };
    if (losses) outputs[io.lossName] = new ort.Tensor('float32', losses.subarray(start, start + n), [n]);
    await runInto(session, feeds, outputs);
  }
  const predictions = new Int32Array(rows);
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < io.numClasses; k++) {
      if (logits[r * io.numClasses + k]! > logits[r * io.numClasses + best]!) best = k;
    }
    predictions[r] = best;
    if (labels && BigInt(best) === labels[r]) correct++;
  }
  const result: PredictResult = { logits, predictions };
  if (labels) result.accuracy = rows === 0 ? 0 : correct / rows;
  if (losses) result.meanLoss = rows === 0 ? 0 : losses.reduce((a, b) => a + b, 0) / rows;
  return result;
}
