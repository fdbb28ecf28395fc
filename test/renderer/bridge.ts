// The one test double the renderer tests use: a small object implementing the contract's BridgeApi. It stands for
// the transport (Electron IPC or HTTP/WebSocket), never for renderer logic: each test says what the handlers it
// touches answer, and pushes events with emit().
import type {
  BridgeApi,
  EventName,
  Events,
  HandlerArgs,
  HandlerName,
  HandlerResult,
} from '../../app/contract.ts';

export type HandlerImpls = {
  [K in HandlerName]?: (args: HandlerArgs<K>) => HandlerResult<K> | Promise<HandlerResult<K>>;
};

export interface TestBridge extends BridgeApi {
  /** Every invoke, in order. */
  calls: { name: HandlerName; args: unknown }[];
  callsTo(name: HandlerName): unknown[];
  emit<E extends EventName>(name: E, payload: Events[E]): void;
  listenerCount(name: EventName): number;
  /** Replaces or adds handlers. */
  handle(impls: HandlerImpls): void;
}

/** A bridge whose handlers are `impls`; a call to any other handler rejects like the server would. */
export function testBridge(impls: HandlerImpls = {}): TestBridge {
  const handlers: HandlerImpls = { ...impls };
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  const calls: { name: HandlerName; args: unknown }[] = [];
  return {
    calls,
    callsTo: (name) => calls.filter((c) => c.name === name).map((c) => c.args),
    async invoke<K extends HandlerName>(name: K, args: HandlerArgs<K>): Promise<HandlerResult<K>> {
      calls.push({ name, args });
      const impl = handlers[name] as
        ((a: HandlerArgs<K>) => HandlerResult<K> | Promise<HandlerResult<K>>) | undefined;
      if (!impl) throw Object.assign(new Error(`no handler ${name}`), { code: 'NOT_FOUND' });
      // Like a real transport, the answer arrives asynchronously and as a copy.
      return structuredClone(await impl(structuredClone(args)));
    },
    on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => void set.delete(wrapped);
    },
    emit(name, payload) {
      for (const l of listeners.get(name) ?? []) l(structuredClone(payload));
    },
    listenerCount: (name) => listeners.get(name)?.size ?? 0,
    handle(more) {
      Object.assign(handlers, more);
    },
  };
}

/** Lets pending promise callbacks (the bridge's answers) run. */
export async function settle(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
