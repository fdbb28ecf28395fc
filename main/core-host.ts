// Main's side of the app core (conventions 5): the AppContext, its SQLite connection and its run queue live in a
// separate process, because onnxruntime-node's session.run is synchronous and anything CPU-bound in main freezes
// every window and every IPC call. The host starts the core (utilityProcess in the app; a worker thread where
// Electron is absent, as in the tests), relays invoke → reply/error, fans out pushed events, and shuts it down.
import { utilityProcess } from 'electron';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import type { BridgeErrorData, EventName, Events } from '../app/contract.ts';
import {
  bridgeError,
  isCoreToHost,
  type CoreInit,
  type CoreToHost,
  type HostToCore,
} from './core-protocol.ts';
import { coreEnv } from './paths.ts';

/** One end of a core process, whatever hosts it. */
export interface CoreChannel {
  postMessage(message: HostToCore): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Fires once when the process or thread has ended, for whatever reason. */
  onExit(listener: (code: number) => void): void;
  kill(): void;
}

/** A call the core answered with an error: the Error carries the bridge fields (code, issues). */
export class CoreCallError extends Error {
  readonly code: string;
  readonly issues: BridgeErrorData['issues'];
  constructor(readonly data: BridgeErrorData) {
    super(data.message);
    this.name = data.name;
    this.code = data.code;
    this.issues = data.issues;
  }
}

export type PushListener = <E extends EventName>(name: E, payload: Events[E]) => void;

export interface CoreHostOptions {
  /** How long shutdown waits for the core to pause its runs and close the database (default 20 s). */
  closeTimeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: CoreCallError): void;
}

export class CoreHost {
  /** Resolves with the handler names the core serves; rejects if it could not start. */
  readonly ready: Promise<readonly string[]>;
  readonly #channel: CoreChannel;
  readonly #pending = new Map<number, Pending>();
  readonly #push = new Set<PushListener>();
  readonly #exitListeners = new Set<(code: number) => void>();
  readonly #closeTimeoutMs: number;
  #handlers: readonly string[] = [];
  #nextId = 1;
  #exited: number | undefined;
  #closing: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  #settleReady!: { resolve(names: readonly string[]): void; reject(error: CoreCallError): void };

  constructor(channel: CoreChannel, init: CoreInit, options: CoreHostOptions = {}) {
    this.#channel = channel;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 20_000;
    this.ready = new Promise((resolve, reject) => (this.#settleReady = { resolve, reject }));
    // Callers that never await ready must not see an unhandled rejection; invoke() reports it instead.
    this.ready.catch(() => undefined);
    channel.onMessage((message) => this.#receive(message));
    channel.onExit((code) => this.#exit(code));
    channel.postMessage({ type: 'init', init });
  }

  /** Calls a core handler; rejects with CoreCallError carrying the core's error (or CORE_UNAVAILABLE). */
  async invoke(name: string, args: unknown): Promise<unknown> {
    await this.ready.catch((error: unknown) => {
      throw error instanceof CoreCallError ? error : unavailable(String(error));
    });
    if (this.#exited !== undefined || this.#closing) {
      throw unavailable('the app core is not running');
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#channel.postMessage({ type: 'invoke', id, name, args });
      } catch (error) {
        // An argument that cannot be structured-cloned never leaves main.
        this.#pending.delete(id);
        reject(
          new CoreCallError(
            bridgeError('ARGS_INVALID', `arguments of ${name} cannot be sent: ${String(error)}`, 'TypeError'),
          ),
        );
      }
    });
  }

  /** Every event the core pushes (run progress, status, import progress). Returns the unsubscribe. */
  onPush(listener: PushListener): () => void {
    this.#push.add(listener);
    return () => void this.#push.delete(listener);
  }

  /** The core ended (crash, kill, or after close). */
  onExit(listener: (code: number) => void): () => void {
    this.#exitListeners.add(listener);
    return () => void this.#exitListeners.delete(listener);
  }

  /** The handler names the core serves (empty until ready). */
  get handlers(): readonly string[] {
    return this.#handlers;
  }

  get running(): boolean {
    return this.#exited === undefined;
  }

  /**
   * Asks the core to pause its runs (each writes a checkpoint and can be resumed) and close the database, then
   * ends the process. After closeTimeoutMs the process is killed; the runs are then marked interrupted at the
   * next start and resume from their last checkpoint.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#exited !== undefined) return resolve();
      const timer = setTimeout(() => this.#channel.kill(), this.#closeTimeoutMs);
      this.#onClosed = () => this.#channel.kill();
      this.#exitListeners.add(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#channel.postMessage({ type: 'shutdown' });
    });
    return this.#closing;
  }

  #receive(raw: unknown): void {
    if (!isCoreToHost(raw)) {
      console.error('core-host: ignoring malformed message from the core', raw);
      return;
    }
    const message: CoreToHost = raw;
    switch (message.type) {
      case 'ready':
        this.#handlers = Object.freeze(message.handlers.filter((h): h is string => typeof h === 'string'));
        this.#settleReady.resolve(this.#handlers);
        return;
      case 'reply':
        this.#take(message.id)?.resolve(message.value);
        return;
      case 'error':
        this.#take(message.id)?.reject(new CoreCallError(message.error));
        return;
      case 'push':
        for (const listener of this.#push) {
          try {
            listener(message.name, message.payload);
          } catch (error) {
            console.error('core-host: push listener failed', error);
          }
        }
        return;
      case 'fatal':
        console.error('core-host: the app core failed:', message.error.message);
        this.#settleReady.reject(new CoreCallError(message.error));
        this.#channel.kill();
        return;
      case 'closed':
        this.#onClosed?.();
        return;
    }
  }

  #take(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    return pending;
  }

  #exit(code: number): void {
    if (this.#exited !== undefined) return;
    this.#exited = code;
    const error = unavailable(`the app core exited (code ${code})`);
    this.#settleReady.reject(error);
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    for (const listener of this.#exitListeners) listener(code);
  }
}

function unavailable(message: string): CoreCallError {
  return new CoreCallError(bridgeError('CORE_UNAVAILABLE', message));
}

/** The app's channel: the core in an Electron utility process (its own crash domain, its own event loop). */
export function utilityCoreChannel(entry: string, options: { env?: NodeJS.ProcessEnv } = {}): CoreChannel {
  const child = utilityProcess.fork(entry, [], {
    serviceName: 'FLOPS Workbench core',
    stdio: 'inherit',
    ...(options.env ? { env: options.env } : {}),
  });
  return {
    postMessage: (message) => child.postMessage(message),
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => void child.once('exit', listener),
    kill: () => void child.kill(),
  };
}

let tsxApi: string | undefined;

/**
 * The core in a worker thread of this process (tests; a fallback where a utility process cannot start). A .ts
 * entry is loaded through tsx's register() first, as engine/worker/host.ts does (`--import tsx` does not apply to
 * workers on Node 20).
 */
export function workerCoreChannel(entry: URL, options: { env?: NodeJS.ProcessEnv } = {}): CoreChannel {
  const workerOptions = options.env ? { env: options.env } : {};
  let worker: Worker;
  if (fileURLToPath(entry).endsWith('.ts')) {
    tsxApi ??= import.meta.resolve('tsx/esm/api');
    const code =
      `import(${JSON.stringify(tsxApi)})` +
      `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
    worker = new Worker(code, { ...workerOptions, eval: true });
  } else {
    worker = new Worker(entry, workerOptions);
  }
  worker.on('error', (error) => console.error('core-host: the core thread failed', error));
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (listener) => void worker.on('message', listener),
    onExit: (listener) => void worker.once('exit', listener),
    kill: () => void worker.terminate(),
  };
}

/** The built entry is core-entry.js beside this file; under tsx (tests) it is the .ts source. */
export const CORE_ENTRY = new URL(`./core-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * Starts the app core on the data folder and waits until its workspace is open. The core runs in a utility
 * process; FLOPS_CORE_HOST=worker runs it in a worker thread of main instead (still off main's event loop), for
 * a platform where a utility process cannot start.
 */
export async function setupCore(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<CoreHost> {
  const childEnv = coreEnv(env);
  const channel =
    env.FLOPS_CORE_HOST === 'worker'
      ? workerCoreChannel(CORE_ENTRY, { env: childEnv })
      : utilityCoreChannel(fileURLToPath(CORE_ENTRY), { env: childEnv });
  const core = new CoreHost(channel, { dataDir, startQueued: true });
  await core.ready;
  return core;
}
