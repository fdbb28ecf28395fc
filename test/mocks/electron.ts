// The single Electron stand-in for unit tests of main/. It records what main/ registers so tests can call the
// plain handlers; it implements nothing of Electron itself.
export const handlers = new Map<string, (...args: unknown[]) => unknown>();

export const ipcMain = {
  handle(channel: string, fn: (...args: unknown[]) => unknown) {
    if (handlers.has(channel)) throw new Error(`duplicate handler ${channel}`);
    handlers.set(channel, fn);
  },
  removeHandler(channel: string) {
    handlers.delete(channel);
  },
};

export const app = {
  getPath: (_name: string) => '/tmp/flops-electron-mock',
  whenReady: () => Promise.resolve(),
  on: () => app,
  requestSingleInstanceLock: () => true,
  quit: () => undefined,
};

export default { ipcMain, app };
