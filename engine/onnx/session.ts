// ONNX Runtime sessions with an execution-provider preference list. onnxruntime-node appends providers inside
// session creation and throws when one cannot load (e.g. CUDA without its NuGet libraries), and a session created
// with several providers does not say which one took the graph. So we create the session with ONE provider at a
// time, in preference order, and report the provider that really loaded it plus every failure on the way.
import { stat } from 'node:fs/promises';

import * as ort from 'onnxruntime-node';

import { FormatError, ModelError } from '../errors.ts';
import type { TensorSpec } from '../params.ts';

export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';

/** Fastest first; cpu last because it always exists (it is the fallback of every list that includes it). */
export const DEFAULT_PROVIDERS: readonly ProviderName[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

export interface CreateSessionOptions {
  /** Providers to try in order; default DEFAULT_PROVIDERS. */
  providers?: readonly ProviderName[];
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** Default 'all' (constant folding and fusions; our graphs are small and fixed). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Inputs the caller will feed as trainable tensors. Names must exist; specs are also checked for shape/type. */
  trainable?: readonly (string | TensorSpec)[];
  /** How the model is named in errors when it is given as bytes. */
  label?: string;
  /** ORT session log level (0 verbose … 4 fatal); default 3 so failed provider probes do not flood stderr. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Whether idle intra-op pool threads busy-wait for the next run (ORT's default: true). Set false where JS work
   * runs between ORT calls (an SPSA step generates d Gaussians between two 64-row runs): a spinning pool thread
   * then takes the core the JS thread needs. On a loaded 2-vCPU VM, false cut the median SPSA estimate on the
   * 784-128-64-10 MLP from 62 to 52 ms at two threads.
   */
  allowSpinning?: boolean;
}

export interface ProviderAttempt {
  name: ProviderName;
  /** Why the provider was skipped or failed; absent for the provider that loaded the model. */
  error?: string;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The provider the session was created with. ORT may still place single unsupported nodes on CPU. */
  provider: ProviderName;
  tried: ProviderAttempt[];
}

/** Providers this onnxruntime-node build knows on this platform (cpu always). */
export function availableProviders(): Set<string> {
  return new Set(['cpu', ...ort.listSupportedBackends().map((b) => b.name)]);
}

// ORT's messages for bytes that are not an ONNX model at all. They fail the same way on every provider.
const NOT_ONNX = /protobuf parsing failed|No graph was found|File doesn't exist/i;
// A well-formed ModelProto that no provider can load (bad opset, unknown op, bad IR version): no point retrying.
const INVALID_MODEL =
  /invalid model|ValidateOpsetForDomain|Unsupported model IR version|Unknown model file format/i;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Creates a session from model bytes or a file path, trying `providers` in order. Skips providers this build
 * lacks (per `ort.listSupportedBackends()`), falls back on failure, and reports which one loaded the model.
 * Throws FormatError for input that is not an ONNX model, ModelError if no provider can load it or if the model
 * lacks a declared trainable input.
 */
export async function createSession(
  model: Uint8Array | string,
  options: CreateSessionOptions = {},
): Promise<CreatedSession> {
  const file = typeof model === 'string' ? model : (options.label ?? '<onnx bytes>');
  if (typeof model === 'string') {
    try {
      await stat(model);
    } catch (cause) {
      throw new FormatError(
        file,
        `cannot read model (${(cause as NodeJS.ErrnoException).code ?? messageOf(cause)})`,
        {
          cause,
        },
      );
    }
  } else if (model.length === 0) {
    throw new FormatError(file, 'not an ONNX model: empty');
  }

  const available = availableProviders();
  const tried: ProviderAttempt[] = [];
  for (const name of options.providers ?? DEFAULT_PROVIDERS) {
    if (!available.has(name)) {
      tried.push({
        name,
        error: `not available in this onnxruntime-node build on ${process.platform}/${process.arch}`,
      });
      continue;
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [name],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      logSeverityLevel: options.logSeverityLevel ?? 3,
      ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
      ...(options.interOpNumThreads !== undefined && { interOpNumThreads: options.interOpNumThreads }),
      // The Node binding flattens `extra` into session config entries: session.intra_op.allow_spinning.
      ...(options.allowSpinning === false && { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    let session: ort.InferenceSession;
    try {
      session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
    } catch (e) {
      const error = messageOf(e);
      if (NOT_ONNX.test(error)) throw new FormatError(file, `not an ONNX model (${error})`, { cause: e });
      if (INVALID_MODEL.test(error))
        throw new ModelError(`${file}: ONNX Runtime refuses the model: ${error}`, { cause: e });
      tried.push({ name, error });
      continue;
    }
    tried.push({ name });
    if (options.trainable) {
      try {
        validateTrainableInputs(session, options.trainable, file);
      } catch (e) {
        await session.release();
        throw e;
      }
    }
    return { session, provider: name, tried };
  }
  const summary = tried.map((t) => `${t.name}: ${t.error ?? 'ok'}`).join('; ');
  throw new ModelError(`${file}: no execution provider could load the model (${summary})`);
}

/**
 * Checks that the session declares every trainable input. Specs with a shape are also checked: float32, same
 * rank, and equal fixed dimensions (a symbolic model dimension accepts any size).
 */
export function validateTrainableInputs(
  session: ort.InferenceSession,
  trainable: readonly (string | TensorSpec)[],
  file = '<onnx model>',
): void {
  const declared = new Map<string, ort.InferenceSession.ValueMetadata>();
  session.inputNames.forEach((name, i) => {
    const meta = session.inputMetadata[i];
    if (meta) declared.set(name, meta);
  });
  const names = trainable.map((t) => (typeof t === 'string' ? t : t.name));
  const missing = names.filter((n) => !declared.has(n));
  if (missing.length > 0) {
    throw new ModelError(
      `${file}: model lacks trainable inputs ${missing.join(', ')} (its inputs are ${session.inputNames.join(', ') || 'none'})`,
    );
  }
  const problems: string[] = [];
  for (const t of trainable) {
    if (typeof t === 'string') continue;
    const meta = declared.get(t.name);
    if (!meta?.isTensor) {
      problems.push(`${t.name} is not a tensor`);
      continue;
    }
    if (meta.type !== 'float32') problems.push(`${t.name} is ${meta.type}, not float32`);
    const shape = meta.shape;
    const ok =
      shape.length === t.shape.length && shape.every((d, i) => typeof d === 'string' || d === t.shape[i]);
    if (!ok) problems.push(`${t.name} has shape [${shape.join(', ')}], expected [${t.shape.join(', ')}]`);
  }
  if (problems.length > 0)
    throw new ModelError(`${file}: trainable inputs do not match: ${problems.join('; ')}`);
}

/** Where each trainable tensor sits in the flat parameter vector (FlatParams satisfies this). */
export interface ParamLayout {
  readonly specs: readonly TensorSpec[];
  readonly size: number;
  offset(name: string): number;
}

/**
 * Feeds for the trainable inputs as Tensors over subarray views of one flat vector: ORT's Node binding wraps the
 * ArrayBuffer without copying, so a step's parameters (or theta + eps*z) go in with no copy. The wrappers for the
 * last vector are kept, because estimators reuse one scratch vector for every perturbed evaluation.
 */
export class ParamFeeds {
  #theta: Float32Array | undefined;
  #feeds: Record<string, ort.Tensor> = {};

  constructor(readonly layout: ParamLayout) {}

  feeds(theta: Float32Array): Record<string, ort.Tensor> {
    if (theta === this.#theta) return this.#feeds;
    if (theta.length !== this.layout.size) {
      throw new RangeError(
        `ParamFeeds: theta has ${theta.length} values, the layout has ${this.layout.size}`,
      );
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of this.layout.specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const offset = this.layout.offset(spec.name);
      feeds[spec.name] = new ort.Tensor('float32', theta.subarray(offset, offset + size), spec.shape);
    }
    this.#theta = theta;
    this.#feeds = feeds;
    return feeds;
  }
}

/**
 * Runs with preallocated outputs: ORT writes each output into the buffer of the given tensor, so per-step
 * loops allocate nothing. Every output tensor's dims must equal what the run computes.
 */
export async function runInto(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  outputs: Record<string, ort.Tensor>,
): Promise<void> {
  // session.run treats an object without any known output name as run *options*: it would then silently
  // allocate fresh outputs and leave the buffers untouched. Refuse that instead.
  const unknown = Object.keys(outputs).filter((name) => !session.outputNames.includes(name));
  if (unknown.length > 0) {
    throw new ModelError(
      `runInto: model has no outputs ${unknown.join(', ')} (it has ${session.outputNames.join(', ')})`,
    );
  }
  await session.run(feeds, outputs);
}
