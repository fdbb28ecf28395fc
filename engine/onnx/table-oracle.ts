// OnnxLossOracle plus the native fast paths for 'table' directions (LossOracle.lossesAlongDirections and
// gradientAlongDirections): further sessions over the model's table variants (table-graph.ts) perturb θ inside
// the graph, so an SPSA direction costs JS one offset instead of d Gaussians and two d-long passes, and with the
// gradient variant the combine ĝ += s_k·z_k runs there too. The session is created on first use, so
// problems that never use 'table' directions pay nothing (each variant carries the 16+ MiB table).
import * as ort from 'onnxruntime-node';

import { noiseTable, noiseTableSize } from '../estimators/directions.ts';
import { OnnxLossOracle, RowGather, type ClassifierIo, type OracleOptions } from './oracle-onnx.ts';
import {
  createSession,
  ParamFeeds,
  runInto,
  type CreateSessionOptions,
  type ParamLayout,
} from './session.ts';
import type { DirectionGradientRequest } from '../oracle.ts';
import {
  buildTableGraph,
  buildTablePairGraph,
  TABLE_GRAPH_NAMES,
  TABLE_PAIR_GRADIENT_NAMES,
  TABLE_PAIR_NAMES,
} from './table-graph.ts';

export interface TableOracleOptions extends OracleOptions {
  /** The model bytes the table variant is built from (the graph `session` runs). */
  modelBytes: Uint8Array;
  /** Options of the table session (providers: where the model session runs). */
  session: Omit<CreateSessionOptions, 'trainable'>;
}

export class OnnxTableLossOracle extends OnnxLossOracle {
  readonly #layout: ParamLayout;
  readonly #options: TableOracleOptions;
  readonly #gather: RowGather;
  readonly #maxRows: number;
  #tableSession: Promise<ort.InferenceSession> | undefined;
  #pairSession: Promise<ort.InferenceSession | undefined> | undefined;
  #gradientSession: Promise<ort.InferenceSession | undefined> | undefined;
  #gradIn = new Float32Array(0);
  #pairEps = new Float32Array(0);
  readonly #paramFeeds: ParamFeeds;
  #x: Float32Array = new Float32Array(0);
  #y: BigInt64Array = new BigInt64Array(0);
  #offsets = new BigInt64Array(0);
  #chunkOut = new Float32Array(0);

  constructor(
    session: ort.InferenceSession,
    io: ClassifierIo,
    layout: ParamLayout,
    options: TableOracleOptions,
  ) {
    super(session, io, layout, options);
    this.#layout = layout;
    this.#paramFeeds = new ParamFeeds(layout);
    this.#options = options;
    this.#gather = new RowGather(io.inDim);
    this.#maxRows = options.maxRowsPerRun ?? 4096;
  }

  override setBatch(x: Float32Array, y: BigInt64Array): void {
    super.setBatch(x, y);
    this.#x = x;
    this.#y = y;
  }

  /** The table-variant session (created on the first call). */
  tableSession(): Promise<ort.InferenceSession> {
    this.#tableSession ??= this.#create(
      (bytes, table) => buildTableGraph(bytes, this.#layout, table, this.io.lossName),
      'table directions',
    ) as Promise<ort.InferenceSession>;
    return this.#tableSession;
  }

  /** The pair-variant session (buildTablePairGraph), or undefined where the graph has no pair variant. */
  pairSession(): Promise<ort.InferenceSession | undefined> {
    this.#pairSession ??= this.#create(
      (bytes, table) => buildTablePairGraph(bytes, this.#layout, table, this.io.lossName),
      'table direction pairs',
    );
    return this.#pairSession;
  }

  /** The pair variant with the SPSA combine in its Scan (gradient option), or undefined where there is none. */
  gradientSession(): Promise<ort.InferenceSession | undefined> {
    this.#gradientSession ??= this.#create(
      (bytes, table) => buildTablePairGraph(bytes, this.#layout, table, this.io.lossName, { gradient: true }),
      'table direction pairs with the SPSA combine',
    );
    return this.#gradientSession;
  }

  async #create(
    build: (bytes: Uint8Array, table: Float32Array) => Uint8Array | undefined,
    what: string,
  ): Promise<ort.InferenceSession | undefined> {
    const bytes = build(this.#options.modelBytes, noiseTable(noiseTableSize(this.#layout.size)));
    if (bytes === undefined) return undefined;
    const label = `${this.#options.session.label ?? 'model'} (${what})`;
    // The variants are validated by the oracle's own checks, not against the layout's trainable inputs.
    const { trainable: _, ...sessionOptions } = this.#options.session as CreateSessionOptions;
    return (await createSession(bytes, { ...sessionOptions, label })).session;
  }

  /**
   * Whether groups come as central-difference pairs (eps_{2k+1} = −eps_{2k}, same offset), as SPSA sends
   * them; those run through the pair variant (one Scan iteration and shared work per pair).
   */
  static isPairs(eps: Float32Array, offsets: ArrayLike<number>): boolean {
    if (eps.length % 2 !== 0) return false;
    for (let j = 0; j < eps.length; j += 2) {
      if (eps[j + 1] !== -eps[j]! || offsets[j + 1] !== offsets[j]) return false;
    }
    return true;
  }

  /** Offsets as int64, each checked to leave d values in the table. */
  #checkOffsets(offsets: ArrayLike<number>, count: number): BigInt64Array {
    const d = this.#layout.size;
    const t = noiseTableSize(d);
    if (this.#offsets.length !== count) this.#offsets = new BigInt64Array(count);
    for (let k = 0; k < count; k++) {
      const o = offsets[k]!;
      if (!(Number.isInteger(o) && o >= 0 && o + d <= t)) {
        throw new RangeError(`table offset ${o} does not leave ${d} values in a table of ${t}`);
      }
      this.#offsets[k] = BigInt(o);
    }
    return this.#offsets;
  }

  /**
   * LossOracle.gradientAlongDirections through the gradient session: one run per group, the losses, scalars and
   * ĝ update all from the graph. Declines (false) when the rows need more than one run (the sum over rows of
   * s_k must see every row before ĝ is updated) or the model has no pair variant.
   */
  async gradientAlongDirections(request: DirectionGradientRequest): Promise<boolean> {
    const { theta, eps, offsets, rows, counts, grad, losses, scalars } = request;
    const d = this.#layout.size;
    const k = offsets.length;
    const n = rows.length;
    if (theta.length !== d) throw new RangeError(`theta has ${theta.length} values, the layout has ${d}`);
    if (grad.length !== d) throw new RangeError(`grad has ${grad.length} values, the layout has ${d}`);
    if (losses.length < 2 * k * n) throw new RangeError(`losses has ${losses.length} slots for 2×${k}×${n}`);
    if (scalars.length < k) throw new RangeError(`scalars has ${scalars.length} slots for ${k} directions`);
    const offsets64 = this.#checkOffsets(offsets, k);
    if (k === 0 || n === 0 || n > this.#maxRows) return false;
    const session = await this.gradientSession();
    if (!session) return false;
    const rowCounts = new Float64Array(n);
    for (let r = 0; r < n; r++) rowCounts[r] = counts[rows[r]!]!;
    const { x, y } = this.#gather.gather(this.#x, this.#y, this.batchSize, rows);
    const { inputName, labelName, inDim } = this.io;
    const G = TABLE_PAIR_GRADIENT_NAMES;
    // ĝ in and out are distinct buffers: the output overwrites `grad` after the run has read the copy.
    if (this.#gradIn.length !== d) this.#gradIn = new Float32Array(d);
    this.#gradIn.set(grad);
    await runInto(
      session,
      {
        ...this.#paramFeeds.feeds(theta),
        [TABLE_PAIR_NAMES.eps]: new ort.Tensor('float32', new Float32Array(k).fill(eps), [k]),
        [TABLE_PAIR_NAMES.offset]: new ort.Tensor('int64', offsets64, [k]),
        [G.gradIn]: new ort.Tensor('float32', this.#gradIn, [d]),
        [G.counts]: new ort.Tensor('float64', rowCounts, [n]),
        [G.twoEps]: new ort.Tensor('float64', Float64Array.of(2 * eps), []),
        [G.batch]: new ort.Tensor('float64', Float64Array.of(this.batchSize), []),
        [inputName]: new ort.Tensor('float32', x, [n, inDim]),
        [labelName]: new ort.Tensor('int64', y, [n]),
      },
      {
        [TABLE_PAIR_NAMES.losses]: new ort.Tensor('float32', losses.subarray(0, 2 * k * n), [k, 2, n]),
        [G.scalars]: new ort.Tensor('float32', scalars.subarray(0, k), [k]),
        [G.grad]: new ort.Tensor('float32', grad, [d]),
      },
    );
    return true;
  }

  async lossesAlongDirections(
    theta: Float32Array,
    eps: Float32Array,
    offsets: ArrayLike<number>,
    rows: Int32Array,
    out: Float32Array,
  ): Promise<void> {
    const d = this.#layout.size;
    const g = eps.length;
    const total = rows.length;
    if (theta.length !== d) throw new RangeError(`theta has ${theta.length} values, the layout has ${d}`);
    if (offsets.length !== g) throw new RangeError(`${offsets.length} offsets for ${g} eps values`);
    if (out.length < g * total) throw new RangeError(`out has ${out.length} slots for ${g}×${total} losses`);
    this.#checkOffsets(offsets, g);
    if (g === 0 || total === 0) return;
    const pairs = OnnxTableLossOracle.isPairs(eps, offsets) ? await this.pairSession() : undefined;
    const session = pairs ?? (await this.tableSession());
    const { inputName, labelName, inDim } = this.io;
    let fixed: Record<string, ort.Tensor>;
    let lossName: string;
    let dims: (n: number) => number[];
    if (pairs) {
      // [K, 2, n] row-major is the [2K, n] layout of the groups (k, +), (k, −).
      const k = g / 2;
      if (this.#pairEps.length !== k) this.#pairEps = new Float32Array(k);
      for (let j = 0; j < k; j++) this.#pairEps[j] = eps[2 * j]!;
      const pairOffsets = new BigInt64Array(k);
      for (let j = 0; j < k; j++) pairOffsets[j] = this.#offsets[2 * j]!;
      fixed = {
        ...this.#paramFeeds.feeds(theta),
        [TABLE_PAIR_NAMES.eps]: new ort.Tensor('float32', this.#pairEps, [k]),
        [TABLE_PAIR_NAMES.offset]: new ort.Tensor('int64', pairOffsets, [k]),
      };
      lossName = TABLE_PAIR_NAMES.losses;
      dims = (n) => [k, 2, n];
    } else {
      const names = TABLE_GRAPH_NAMES;
      fixed = {
        [names.theta]: new ort.Tensor('float32', theta, [d]),
        [names.eps]: new ort.Tensor('float32', eps, [g]),
        [names.offset]: new ort.Tensor('int64', this.#offsets, [g]),
      };
      lossName = names.losses;
      dims = (n) => [g, n];
    }
    for (let start = 0; start < total; start += this.#maxRows) {
      const chunk = rows.subarray(start, Math.min(total, start + this.#maxRows));
      const n = chunk.length;
      const { x, y } = this.#gather.gather(this.#x, this.#y, this.batchSize, chunk);
      // One chunk writes straight into out ([G, R] row-major); several go through a [G, n] buffer.
      const direct = n === total;
      if (!direct && this.#chunkOut.length < g * n) this.#chunkOut = new Float32Array(g * n);
      const target = direct ? out.subarray(0, g * n) : this.#chunkOut.subarray(0, g * n);
      await runInto(
        session,
        {
          ...fixed,
          [inputName]: new ort.Tensor('float32', x, [n, inDim]),
          [labelName]: new ort.Tensor('int64', y, [n]),
        },
        { [lossName]: new ort.Tensor('float32', target, dims(n)) },
      );
      if (!direct) {
        for (let k = 0; k < g; k++) out.set(target.subarray(k * n, (k + 1) * n), k * total + start);
      }
    }
  }

  async release(): Promise<void> {
    const pending = [this.#tableSession, this.#pairSession, this.#gradientSession];
    this.#tableSession = undefined;
    this.#pairSession = undefined;
    this.#gradientSession = undefined;
    for (const p of pending) await (await p)?.release();
  }
}
