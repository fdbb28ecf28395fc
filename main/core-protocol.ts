// The messages between main and the app core it hosts off the main thread (conventions 5). The core process (a
// utilityProcess in the app, a worker_threads Worker in tests) owns the AppContext; main only relays calls in and
// replies and pushed events out. Everything here is structured-clone data: no functions, no class instances.
import type { ContextOptions } from '../app/context.ts';
import type { BridgeErrorData, EventName, Events } from '../app/contract.ts';

/** What the core needs to open its workspace; sent once, first. */
export interface CoreInit {
  dataDir: string;
  /** Queue the runs a previous session left 'queued'. */
  startQueued?: boolean;
  /** Execution providers to ask for, in order; default: app/providers.ts's preference. */
  providers?: ContextOptions['providers'];
  threads?: number;
}

export type HostToCore =
  | { type: 'init'; init: CoreInit }
  | { type: 'invoke'; id: number; name: string; args: unknown }
  | { type: 'shutdown' };

export type CoreToHost =
  /** The workspace is open; `handlers` are the names the core answers (the contract's). */
  | { type: 'ready'; handlers: string[] }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'error'; id: number; error: BridgeErrorData }
  | { type: 'push'; name: EventName; payload: Events[EventName] }
  /** The core could not start (the workspace would not open) or hit an error it cannot recover from. */
  | { type: 'fatal'; error: BridgeErrorData }
  /** The queue paused its runs and the database is closed; the process may exit. */
  | { type: 'closed' };

const HOST_TYPES = new Set(['init', 'invoke', 'shutdown']);
const CORE_TYPES = new Set(['ready', 'reply', 'error', 'push', 'fatal', 'closed']);

function tagged(message: unknown, types: Set<string>): boolean {
  if (typeof message !== 'object' || message === null) return false;
  const type = (message as { type?: unknown }).type;
  return typeof type === 'string' && types.has(type);
}

export function isHostToCore(message: unknown): message is HostToCore {
  if (!tagged(message, HOST_TYPES)) return false;
  const m = message as { type: string; id?: unknown; name?: unknown; init?: unknown };
  if (m.type === 'invoke') return Number.isInteger(m.id) && typeof m.name === 'string';
  if (m.type === 'init') {
    const init = m.init as { dataDir?: unknown } | null | undefined;
    return typeof init?.dataDir === 'string' && init.dataDir.length > 0;
  }
  return true;
}

export function isCoreToHost(message: unknown): message is CoreToHost {
  if (!tagged(message, CORE_TYPES)) return false;
  const m = message as { type: string; id?: unknown; handlers?: unknown; name?: unknown };
  if (m.type === 'reply' || m.type === 'error') return Number.isInteger(m.id);
  if (m.type === 'ready') return Array.isArray(m.handlers);
  if (m.type === 'push') return typeof m.name === 'string';
  return true;
}

/** A bridge error made from anything thrown, for the cases main itself must report (core gone, bad message). */
export function bridgeError(code: string, message: string, name = 'CoreHostError'): BridgeErrorData {
  return { name, code, message };
}
