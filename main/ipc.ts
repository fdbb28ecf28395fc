// The one IPC wrapper (conventions 3). Every handler the renderer may call is registered through it, on the
// channel `api:<domain/verb>`; before a handler runs, the wrapper checks who is asking (Electron advisory
// GHSA-mq8j-3h7h-p8g7: a handler must validate event.senderFrame, not trust that the message came from the page
// it expects): the sender must be one of the app's windows, the call must come from its top frame, and that frame
// must show our own page (file:// index.html, or the dev server in development). The single argument object then
// goes to the handler unchanged: the use case validates it with its own zod schema (app/use-cases/validate.ts).
//
// Results cross as an envelope, never as a thrown Error: ipcMain.handle turns a thrown Error into a bare message
// ("Error invoking remote method ..."), which would lose the stable code and the per-field issues the UI shows.
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';

import type { BridgeErrorData, EventName, Events } from '../app/contract.ts';
import type { CoreHost } from './core-host.ts';
import { API_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, HANDLER_NAME, type IpcResult } from './ipc-channels.ts';

export { API_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, HANDLER_NAME, type IpcResult };

/** Who may call: decided by main/window.ts (the windows it created, the page it loads). */
export interface SenderPolicy {
  isAppWindow(contents: WebContents): boolean;
  isTrustedUrl(url: string): boolean;
}

/** A handler as the wrapper runs it: the untrusted argument, and the (already checked) event. */
export type MainHandler = (args: unknown, event: IpcMainInvokeEvent) => unknown;

/** Why a call must be refused, or undefined when the sender is our page in our window. */
export function senderProblem(event: IpcMainInvokeEvent, policy: SenderPolicy): string | undefined {
  const frame = event.senderFrame;
  if (!frame) return 'the sending frame is gone (navigated or destroyed)';
  if (frame.parent !== null) return 'the call came from a subframe';
  if (!policy.isAppWindow(event.sender)) return 'the sender is not an app window';
  if (!policy.isTrustedUrl(frame.url)) return `the sending page ${frame.url} is not the app`;
  return undefined;
}

/** Any thrown value as bridge data: FlopsError's code and issues survive, anything else is INTERNAL. */
export function errorData(error: unknown): BridgeErrorData {
  const e = error instanceof Error ? error : new Error(String(error));
  const { code, issues } = e as { code?: unknown; issues?: unknown };
  const list = Array.isArray(issues)
    ? issues
        .filter((i): i is { field: unknown; message: unknown } => typeof i === 'object' && i !== null)
        .map((i) => ({ field: String(i.field), message: String(i.message) }))
    : [];
  return {
    name: e.name,
    code: typeof code === 'string' ? code : 'INTERNAL',
    message: e.message,
    ...(list.length > 0 ? { issues: list } : {}),
  };
}

const fail = (code: string, message: string, name = 'IpcError'): IpcResult => ({
  ok: false,
  error: { name, code, message },
});

export class IpcApi {
  readonly #channels = new Set<string>();

  constructor(readonly policy: SenderPolicy) {}

  /** Registers one handler. Refuses a name that is not `domain/verb` or is already registered. */
  handle(name: string, handler: MainHandler): void {
    if (!HANDLER_NAME.test(name)) throw new Error(`not a handler name: '${name}'`);
    const channel = API_CHANNEL_PREFIX + name;
    if (this.#channels.has(channel)) throw new Error(`handler '${name}' is registered twice`);
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, ...args: unknown[]) =>
      this.#call(name, handler, event, args),
    );
    this.#channels.add(channel);
  }

  /** Registers every name, each relayed unchanged to `target` (the app core). */
  relay(names: readonly string[], target: (name: string, args: unknown) => Promise<unknown>): void {
    for (const name of names) this.handle(name, (args) => target(name, args));
  }

  /** The registered handler names. */
  get names(): string[] {
    return [...this.#channels].map((c) => c.slice(API_CHANNEL_PREFIX.length));
  }

  dispose(): void {
    for (const channel of this.#channels) ipcMain.removeHandler(channel);
    this.#channels.clear();
  }

  async #call(
    name: string,
    handler: MainHandler,
    event: IpcMainInvokeEvent,
    args: unknown[],
  ): Promise<IpcResult> {
    const problem = senderProblem(event, this.policy);
    if (problem) {
      console.warn(`IPC: refused ${name}: ${problem}`);
      return fail('IPC_FORBIDDEN', `${name} refused: ${problem}`, 'IpcSecurityError');
    }
    // One plain argument object per call (the contract); more is a caller bug, not something to guess at.
    if (args.length > 1) {
      return fail('ARGS_INVALID', `${name} takes one argument object, got ${args.length} arguments`);
    }
    try {
      return { ok: true, value: await handler(args[0], event) };
    } catch (error) {
      return { ok: false, error: errorData(error) };
    }
  }
}

/** Pushes an event to the app's windows only, and only while they still show the app's page. */
export function broadcast<E extends EventName>(
  name: E,
  payload: Events[E],
  targets: readonly WebContents[],
  policy: SenderPolicy,
): void {
  for (const contents of targets) {
    if (contents.isDestroyed() || !policy.isAppWindow(contents)) continue;
    if (!policy.isTrustedUrl(contents.getURL())) continue;
    contents.send(EVENT_CHANNEL_PREFIX + name, payload);
  }
}

/** Registers every handler the core serves, relayed to it unchanged (the core validates and answers). */
export function setupIpc(core: Pick<CoreHost, 'handlers' | 'invoke'>, policy: SenderPolicy): IpcApi {
  const ipc = new IpcApi(policy);
  ipc.relay(core.handlers, (name, args) => core.invoke(name, args));
  return ipc;
}

/** Relays the core's pushed events (run progress, status, import progress) to the app's windows. */
export function setupEvents(
  core: Pick<CoreHost, 'onPush'>,
  windows: () => readonly WebContents[],
  policy: SenderPolicy,
): () => void {
  return core.onPush((name, payload) => broadcast(name, payload, windows(), policy));
}
