// What every use case runs against: the open workspace (data folder + database), the run queue, and the typed
// event bus that the Electron preload, the loopback server's WebSocket and the CLI's progress bar subscribe to.
import { EventEmitter } from 'node:events';

import type { EventName, Events } from './contract.ts';
import type { ProviderName } from '../engine/onnx/session.ts';
import { listRuns } from './db/runs.ts';
import { RunQueue } from './runs/queue.ts';
import { loadSettings, type SettingKey } from './use-cases/settings.ts';
import { openWorkspace, type Workspace } from './workspace.ts';

/** A typed event bus. A listener that throws is reported and never breaks the emitter or other listeners. */
export class AppEvents {
  readonly #emitter = new EventEmitter();
  readonly #any = new Set<(name: EventName, payload: Events[EventName]) => void>();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
    const wrapped = (payload: Events[E]): void => guard(() => listener(payload));
    this.#emitter.on(name, wrapped);
    return () => void this.#emitter.off(name, wrapped);
  }

  /** Every event, with its name (the WebSocket relays them all). */
  onAny(listener: (name: EventName, payload: Events[EventName]) => void): () => void {
    this.#any.add(listener);
    return () => void this.#any.delete(listener);
  }

  emit<E extends EventName>(name: E, payload: Events[E]): void {
    this.#emitter.emit(name, payload);
    for (const listener of this.#any) guard(() => listener(name, payload));
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    console.error('event listener failed:', error);
  }
}

export interface AppContext {
  workspace: Workspace;
  queue: RunQueue;
  events: AppEvents;
  /**
   * Settings a startup option fixes for this session over the stored value (`--threads`, `--concurrency`);
   * `settings/set` removes the fields it changes. Absent in contexts that are not built by createAppContext.
   */
  overrides?: Set<SettingKey>;
}

export interface ContextOptions {
  dataDir: string;
  /** Queue the runs a previous session left 'queued' (the app and `flops serve`; not one-shot CLI commands). */
  startQueued?: boolean;
  /** These three override the workspace's stored settings (app/use-cases/settings.ts) for this session. */
  concurrency?: Partial<Record<string, number>>;
  providers?: ProviderName[];
  threads?: number;
  stopGraceMs?: number;
}

export interface OwnedContext extends AppContext {
  /** Pauses training runs (resumable later), then closes the database. */
  close(): Promise<void>;
}

export function createAppContext(options: ContextOptions): OwnedContext {
  const workspace = openWorkspace(options.dataDir);
  const events = new AppEvents();
  // Stored settings first, startup options over them: the CLI, `flops serve` and the app all start from what the
  // Settings page saved. A stored value this build cannot honour (a provider it lacks) counts as automatic.
  const stored = loadSettings(workspace.db).settings;
  const overrides = new Set<SettingKey>();
  if (options.providers) overrides.add('providers');
  if (options.threads) overrides.add('threads');
  if (options.concurrency) overrides.add('concurrency');
  const providers = options.providers ?? stored.providers ?? undefined;
  const threads = options.threads ?? stored.threads ?? undefined;
  const concurrency = options.concurrency ?? stored.concurrency ?? undefined;
  const queue = new RunQueue({
    dbPath: workspace.paths.db,
    db: workspace.db,
    listener: {
      progress: (p) => events.emit('run/progress', p),
      status: (s) => events.emit('run/status', s),
    },
    ...(concurrency ? { concurrency } : {}),
    ...(providers ? { providers } : {}),
    ...(threads ? { threads } : {}),
    ...(options.stopGraceMs ? { stopGraceMs: options.stopGraceMs } : {}),
  });
  if (options.startQueued) {
    for (const run of listRuns(workspace.db, { status: 'queued', sort: 'created', order: 'asc' })) {
      queue.enqueue(run.id);
    }
  }
  let closing: Promise<void> | undefined;
  return {
    workspace,
    queue,
    events,
    overrides,
    close: () =>
      (closing ??= queue.close('pause').finally(() => {
        workspace.close();
      })),
  };
}
