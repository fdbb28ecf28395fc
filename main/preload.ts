// The preload (conventions 2): exposes exactly the contract's BridgeApi as `window.api`, and nothing else. The
// renderer never sees ipcRenderer, an IpcRendererEvent (whose `sender` is ipcRenderer) or any channel name.
//
// The window is sandboxed, and a sandboxed preload cannot be an ES module nor require files of its own, so this
// file is bundled into one CommonJS script, dist-electron/preload.cjs (`npm run build:preload`, configured in
// main/preload.vite.config.ts). Only 'electron' stays a require().
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

import type {
  BridgeApi,
  BridgeErrorData,
  EventName,
  Events,
  HandlerArgs,
  HandlerName,
  HandlerResult,
} from '../app/contract.ts';
import { API_CHANNEL_PREFIX, EVENT_CHANNEL_PREFIX, HANDLER_NAME, type IpcResult } from './ipc-channels.ts';

/**
 * A failed call arrives as a plain BridgeErrorData object ({ name, code, message, issues }). It is deliberately not
 * an Error: contextBridge copies an Error's message only and drops every other property, so the code and the
 * per-field issues would never reach the page. renderer/src/lib/api.ts reads both shapes.
 */
function rejection(error: BridgeErrorData | undefined): BridgeErrorData {
  if (!error) return { name: 'IpcError', code: 'INTERNAL', message: 'malformed reply from the main process' };
  return {
    name: String(error.name),
    code: String(error.code),
    message: String(error.message),
    ...(error.issues ? { issues: error.issues.map((i) => ({ field: i.field, message: i.message })) } : {}),
  };
}

async function invoke<K extends HandlerName>(name: K, args: HandlerArgs<K>): Promise<HandlerResult<K>> {
  if (typeof name !== 'string' || !HANDLER_NAME.test(name)) {
    throw rejection({
      name: 'IpcError',
      code: 'UNKNOWN_HANDLER',
      message: `not a handler name: ${String(name)}`,
    });
  }
  const result = (await ipcRenderer.invoke(API_CHANNEL_PREFIX + name, args)) as IpcResult | undefined;
  if (result?.ok === true) return result.value as HandlerResult<K>;
  throw rejection(result?.error);
}

function on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
  if (typeof name !== 'string' || !HANDLER_NAME.test(name))
    throw new TypeError(`not an event name: ${String(name)}`);
  if (typeof listener !== 'function') throw new TypeError('listener must be a function');
  const channel = EVENT_CHANNEL_PREFIX + name;
  // The page gets the payload only, never the IpcRendererEvent.
  const wrapped = (_event: IpcRendererEvent, payload: Events[E]): void => listener(payload);
  ipcRenderer.on(channel, wrapped);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    ipcRenderer.removeListener(channel, wrapped);
  };
}

const api = { invoke, on } satisfies BridgeApi;

contextBridge.exposeInMainWorld('api', api);
