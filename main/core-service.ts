// The core side of the core-host protocol: opens the AppContext in this (non-main) process, answers `invoke`
// messages through app/'s handler table and forwards every app event as a `push`. It never imports electron, so
// the same code runs in Electron's utilityProcess and in a plain worker_threads Worker (tests, the fallback host).
import type { ContextOptions, OwnedContext } from '../app/context.ts';
import type { CoreInit, CoreToHost } from './core-protocol.ts';
import { createAppContext } from '../app/context.ts';
import { HANDLER_NAMES, invokeHandler, toBridgeError } from '../app/use-cases/index.ts';
import { bridgeError, isHostToCore } from './core-protocol.ts';

/** The core's end of the channel: a utilityProcess's parentPort or a worker's parentPort, adapted. */
export interface CorePort {
  postMessage(message: CoreToHost): void;
  onMessage(listener: (message: unknown) => void): void;
}

export interface CoreDeps {
  createContext(options: ContextOptions): OwnedContext;
  invoke(ctx: OwnedContext, name: string, args: unknown): Promise<unknown>;
  handlerNames: readonly string[];
}

const DEFAULT_DEPS: CoreDeps = {
  createContext: createAppContext,
  invoke: invokeHandler,
  handlerNames: HANDLER_NAMES,
};

/**
 * Serves the protocol on `port` until a `shutdown` message has closed the context. Resolves then (the caller
 * exits the process); resolves at once, after a `fatal` message, when the workspace cannot be opened.
 */
export function serveCore(port: CorePort, deps: CoreDeps = DEFAULT_DEPS): Promise<void> {
  let ctx: OwnedContext | undefined;
  let closing = false;
  let unsubscribe: (() => void) | undefined;

  const send = (message: CoreToHost): void => {
    try {
      port.postMessage(message);
    } catch (error) {
      // A value that cannot be structured-cloned (a function, a class with private state) must not kill the
      // process; the caller gets an error instead of a reply.
      if (message.type === 'reply') {
        port.postMessage({ type: 'error', id: message.id, error: toBridgeError(error) });
      } else {
        console.error('core: cannot post message', message.type, error);
      }
    }
  };

  return new Promise<void>((resolve) => {
    port.onMessage((raw) => {
      if (!isHostToCore(raw)) {
        console.error('core: ignoring malformed message', raw);
        return;
      }
      switch (raw.type) {
        case 'init': {
          if (ctx) return;
          try {
            ctx = deps.createContext(contextOptions(raw.init));
          } catch (error) {
            send({ type: 'fatal', error: toBridgeError(error) });
            resolve();
            return;
          }
          unsubscribe = ctx.events.onAny((name, payload) => send({ type: 'push', name, payload }));
          send({ type: 'ready', handlers: [...deps.handlerNames] });
          return;
        }
        case 'invoke': {
          const { id, name, args } = raw;
          if (!ctx || closing) {
            const why = closing ? 'the app core is shutting down' : 'the app core is not ready';
            send({ type: 'error', id, error: bridgeError('CORE_UNAVAILABLE', why) });
            return;
          }
          deps.invoke(ctx, name, args).then(
            (value) => send({ type: 'reply', id, value }),
            (error: unknown) => send({ type: 'error', id, error: toBridgeError(error) }),
          );
          return;
        }
        case 'shutdown': {
          if (closing) return;
          closing = true;
          unsubscribe?.();
          const done = (): void => {
            send({ type: 'closed' });
            resolve();
          };
          if (!ctx) return done();
          ctx.close().then(done, (error: unknown) => {
            console.error('core: close failed', error);
            done();
          });
          return;
        }
      }
    });
  });
}

function contextOptions(init: CoreInit): ContextOptions {
  return {
    dataDir: init.dataDir,
    ...(init.startQueued !== undefined ? { startQueued: init.startQueued } : {}),
    ...(init.providers ? { providers: init.providers } : {}),
    ...(init.threads ? { threads: init.threads } : {}),
  };
}
