// Messages between a job host (the caller's thread) and the job's worker thread, and the error transport.
// Structured clone keeps only the built-in Error classes (and drops custom fields), so errors are sent as plain
// data and revived on the host side as instances of the same class, with `code` and fields such as
// FormatError.file intact: `instanceof ModelError` and `err.code` work across the thread boundary.
import { ConfigError, DivergenceError, FlopsError, FormatError, ModelError } from '../errors.ts';

/** Control word layout in the SharedArrayBuffer: one Int32 state, read by the worker without its event loop. */
export const CONTROL_STATE = 0;
export const RUNNING = 0;
export const PAUSED = 1;
export const STOPPING = 2;

export interface JobWorkerData<Req> {
  flopsJob: true;
  request: Req;
  /** Int32Array(1) over this buffer: RUNNING / PAUSED / STOPPING. */
  control: SharedArrayBuffer;
}

/** Mirrors of the control word's changes, for jobs that wait in their event loop (the word is authoritative). */
export type HostToWorker = { type: 'pause' } | { type: 'resume' } | { type: 'stop' };

export type WorkerToHost<Ev, Res> =
  { type: 'event'; event: Ev } | { type: 'result'; result: Res } | { type: 'error'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** Other own enumerable fields (e.g. FormatError.file, ConfigError.field, DivergenceError.step). */
  fields: Record<string, unknown>;
  cause?: SerializedError;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const registry = new Map<string, ErrorClass>();
for (const cls of [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  FlopsError,
  ConfigError,
  ModelError,
  FormatError,
  DivergenceError,
] as ErrorClass[]) {
  registry.set(cls.name, cls);
}

/** Makes an error class revivable by name across threads (the engine's own classes are registered already). */
export function registerErrorClass(cls: ErrorClass): void {
  registry.set(cls.name, cls);
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k !== 'code' && k !== 'name' && cloneable(v)) fields[k] = v;
  }
  const out: SerializedError = { name: e.name, message: e.message, fields };
  if (e.stack !== undefined) out.stack = e.stack;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (e.cause !== undefined && depth < 4) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/**
 * Rebuilds the error as an instance of the registered class of the same name (without running its constructor,
 * whose arguments differ per class); unknown names become a plain Error carrying the original name.
 */
export function reviveError(s: SerializedError): Error {
  const cls = registry.get(s.name) ?? Error;
  const err = Object.create(cls.prototype as object) as Error;
  Object.defineProperty(err, 'message', { value: s.message, writable: true, configurable: true });
  Object.defineProperty(err, 'stack', {
    value: s.stack ?? `${s.name}: ${s.message}`,
    writable: true,
    configurable: true,
  });
  // FlopsError sets `name` and `code` as own properties; keep them so the revived object looks the same.
  err.name = s.name;
  if (s.code !== undefined) (err as { code?: string }).code = s.code;
  Object.assign(err, s.fields);
  if (s.cause)
    Object.defineProperty(err, 'cause', { value: reviveError(s.cause), writable: true, configurable: true });
  return err;
}
