// The single Electron stand-in for unit tests (conventions 14; Electron cannot be installed offline). It records
// what main/ and the preload register so tests can call the plain handlers, and models only the behaviour those
// tests rely on; it implements nothing of Electron itself. Test helpers that are not Electron API are marked so.
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';

type Listener = (...args: unknown[]) => unknown;

// ---- ipcMain -------------------------------------------------------------------------------------------------

export const handlers = new Map<string, Listener>();

export const ipcMain = {
  handle(channel: string, fn: Listener) {
    // Electron throws on a second handler for one channel too.
    if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    handlers.set(channel, fn);
  },
  removeHandler(channel: string) {
    handlers.delete(channel);
  },
};

/** Test helper (not Electron API): what ipcRenderer.invoke reaches in main, including Electron's refusal. */
export async function invokeMain(channel: string, event: unknown, ...args: unknown[]): Promise<unknown> {
  const fn = handlers.get(channel);
  if (!fn)
    throw new Error(`Error invoking remote method '${channel}': No handler registered for '${channel}'`);
  return fn(event, ...args);
}

// ---- preload side: contextBridge and ipcRenderer -------------------------------------------------------------

export const exposed = new Map<string, unknown>();

export const contextBridge = {
  exposeInMainWorld(key: string, api: unknown) {
    if (exposed.has(key))
      throw new Error(`Cannot bind an API on top of an existing property on the window object`);
    exposed.set(key, api);
  },
};

let invokeResponder: (channel: string, ...args: unknown[]) => unknown = (channel) => {
  throw new Error(`No handler registered for '${channel}'`);
};

/** Test helper (not Electron API): decides what ipcRenderer.invoke resolves to. */
export function respondToInvoke(fn: (channel: string, ...args: unknown[]) => unknown): void {
  invokeResponder = fn;
}

class FakeIpcRenderer extends EventEmitter {
  async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    return invokeResponder(channel, ...args);
  }
}

export const ipcRenderer = new FakeIpcRenderer();

// ---- app -----------------------------------------------------------------------------------------------------

class FakeApp extends EventEmitter {
  isPackaged = false;
  readonly #paths = new Map<string, string>();
  getPath(name: string): string {
    return this.#paths.get(name) ?? `/tmp/flops-electron-mock/${name}`;
  }
  setPath(name: string, value: string): void {
    this.#paths.set(name, value);
  }
  getAppPath(): string {
    return process.cwd();
  }
  getVersion(): string {
    return '0.0.0-test';
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  requestSingleInstanceLock(): boolean {
    return true;
  }
  quit(): void {}
  exit(_code?: number): void {}
}

export const app = new FakeApp();

// ---- sessions, frames, web contents, windows -----------------------------------------------------------------

class FakeSession {
  headersReceived: { filter: { urls: string[] }; listener: Listener } | undefined;
  permissionRequestHandler: Listener | undefined;
  permissionCheckHandler: Listener | undefined;
  devicePermissionHandler: Listener | undefined;
  readonly webRequest = {
    onHeadersReceived: (filter: { urls: string[] }, listener: Listener) => {
      this.headersReceived = { filter, listener };
    },
  };
  setPermissionRequestHandler(handler: Listener) {
    this.permissionRequestHandler = handler;
  }
  setPermissionCheckHandler(handler: Listener) {
    this.permissionCheckHandler = handler;
  }
  setDevicePermissionHandler(handler: Listener) {
    this.devicePermissionHandler = handler;
  }
}

export const session = { defaultSession: new FakeSession() };

/** A frame: `parent` null for a top frame, as WebFrameMain. */
export class WebFrameMain {
  constructor(
    public url: string,
    readonly parent: WebFrameMain | null = null,
  ) {}
}

let nextContentsId = 1;

export class WebContents extends EventEmitter {
  readonly id = nextContentsId++;
  readonly mainFrame = new WebFrameMain('about:blank');
  readonly session = session.defaultSession;
  /** Recorded webContents.send calls. */
  readonly sent: [string, ...unknown[]][] = [];
  windowOpenHandler: Listener | undefined;
  #destroyed = false;
  setWindowOpenHandler(handler: Listener) {
    this.windowOpenHandler = handler;
  }
  send(channel: string, ...args: unknown[]) {
    this.sent.push([channel, ...args]);
  }
  getURL(): string {
    return this.mainFrame.url;
  }
  isDestroyed(): boolean {
    return this.#destroyed;
  }
  destroy(): void {
    this.#destroyed = true;
  }
}

let nextWindowId = 1;
const windows = new Set<BrowserWindow>();

export class BrowserWindow extends EventEmitter {
  static getAllWindows(): BrowserWindow[] {
    return [...windows];
  }
  static fromWebContents(contents: unknown): BrowserWindow | null {
    return [...windows].find((w) => w.webContents === contents) ?? null;
  }
  readonly id = nextWindowId++;
  readonly webContents = new WebContents();
  #destroyed = false;
  constructor(readonly options: Record<string, unknown> = {}) {
    super();
    windows.add(this);
    app.emit('web-contents-created', {}, this.webContents);
  }
  loadFile(file: string): Promise<void> {
    this.webContents.mainFrame.url = pathToFileURL(file).href;
    return Promise.resolve();
  }
  loadURL(url: string): Promise<void> {
    this.webContents.mainFrame.url = url;
    return Promise.resolve();
  }
  show(): void {}
  focus(): void {}
  restore(): void {}
  isMinimized(): boolean {
    return false;
  }
  isDestroyed(): boolean {
    return this.#destroyed;
  }
  close(): void {
    this.#destroyed = true;
    this.webContents.destroy();
    windows.delete(this);
    this.emit('closed');
  }
}

// ---- dialog, menu, shell -------------------------------------------------------------------------------------

export const dialog = {
  showOpenDialog: async (..._args: unknown[]) => ({ canceled: true, filePaths: [] as string[] }),
  showErrorBox: (_title: string, _content: string) => undefined,
};

let applicationMenu: unknown = null;
export const Menu = {
  buildFromTemplate: (template: unknown[]) => ({ items: template }),
  setApplicationMenu: (menu: unknown) => {
    applicationMenu = menu;
  },
  getApplicationMenu: () => applicationMenu,
};

export const shell = {
  openPath: async (_path: string) => '',
  openExternal: async (_url: string) => undefined,
};

// ---- utilityProcess ------------------------------------------------------------------------------------------

/** A forked utility process that runs nothing: it records what main posts; tests emit its replies. */
export class FakeUtilityProcess extends EventEmitter {
  readonly posted: unknown[] = [];
  killed = false;
  constructor(
    readonly modulePath: string,
    readonly args: string[],
    readonly options: Record<string, unknown>,
  ) {
    super();
  }
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    if (this.killed) return false;
    this.killed = true;
    queueMicrotask(() => this.emit('exit', 0));
    return true;
  }
}

export const forked: FakeUtilityProcess[] = [];

export const utilityProcess = {
  fork(modulePath: string, args: string[] = [], options: Record<string, unknown> = {}) {
    const child = new FakeUtilityProcess(modulePath, args, options);
    forked.push(child);
    return child;
  },
};

/** Test helper (not Electron API): forget registrations between tests. */
export function resetElectronMock(): void {
  handlers.clear();
  exposed.clear();
  ipcRenderer.removeAllListeners();
  for (const w of [...windows]) w.close();
  app.removeAllListeners();
  app.isPackaged = false;
  forked.length = 0;
  applicationMenu = null;
  const s = session.defaultSession;
  s.headersReceived = undefined;
  s.permissionRequestHandler = undefined;
  s.permissionCheckHandler = undefined;
  s.devicePermissionHandler = undefined;
}

export default {
  ipcMain,
  ipcRenderer,
  contextBridge,
  app,
  session,
  BrowserWindow,
  dialog,
  Menu,
  shell,
  utilityProcess,
};
