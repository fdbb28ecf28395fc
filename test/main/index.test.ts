// main/index.ts end to end against the Electron stand-in: the setup calls run in order, the core is forked as a
// utility process on the data folder, its handlers and the dialogs are registered, the window opens with the
// preload, calls and events are relayed, and quitting waits for the core to close. The forked core is played by
// the test (its real behaviour is covered by core-host.test.ts with a real worker).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { IpcMainInvokeEvent } from 'electron';

import {
  BrowserWindow,
  Menu,
  app,
  forked,
  handlers,
  invokeMain,
  resetElectronMock,
  session,
  type FakeUtilityProcess,
} from '../mocks/electron.ts';

async function until<T>(fn: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = fn();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let child: FakeUtilityProcess;
const quit = vi.fn();

beforeAll(async () => {
  resetElectronMock();
  vi.stubEnv('FLOPS_DATA_DIR', '/tmp/flops-index-test-data');
  app.quit = quit;
  await import('../../main/index.ts');
  child = await until(() => forked[0], 'the core to be forked');
});
afterAll(() => vi.unstubAllEnvs());

describe('main/index.ts', () => {
  it('forks the core entry as a utility process on the data folder, with the assets and binding env', () => {
    expect(child.modulePath).toMatch(/main[\\/]core-entry\.(ts|js)$/);
    expect(child.posted[0]).toEqual({
      type: 'init',
      init: { dataDir: '/tmp/flops-index-test-data', startQueued: true },
    });
    expect(app.getPath('userData')).toBe('/tmp/flops-index-test-data');
    const env = child.options.env as NodeJS.ProcessEnv;
    expect(env.FLOPS_ASSETS_DIR).toMatch(/assets$/);
    // Nothing else may happen before the core is ready: no window, no handlers.
    expect(BrowserWindow.getAllWindows()).toHaveLength(0);
    expect(handlers.size).toBe(0);
  });

  it('once the core is ready: handlers, dialogs, CSP, menu, then the window', async () => {
    child.emit('message', { type: 'ready', handlers: ['run/list', 'run/get'] });
    const win = await until(() => BrowserWindow.getAllWindows()[0], 'the window');
    expect([...handlers.keys()].sort()).toEqual([
      'api:dialog/available',
      'api:dialog/open-file',
      'api:dialog/open-folder',
      'api:run/get',
      'api:run/list',
    ]);
    expect(session.defaultSession.headersReceived).toBeDefined();
    expect(session.defaultSession.permissionRequestHandler).toBeDefined();
    // The CSP listener really replaces the header, and permissions are denied.
    let headers: Record<string, string[]> | undefined;
    session.defaultSession.headersReceived!.listener(
      { responseHeaders: { 'content-security-policy': ['default-src *'] } },
      (r: { responseHeaders: Record<string, string[]> }) => (headers = r.responseHeaders),
    );
    expect(Object.keys(headers!)).toEqual(['Content-Security-Policy']);
    expect(headers!['Content-Security-Policy']![0]).toMatch(/^default-src 'none'/);
    let granted: boolean | undefined;
    session.defaultSession.permissionRequestHandler!({}, 'media', (ok: boolean) => (granted = ok));
    expect(granted).toBe(false);
    expect(Menu.getApplicationMenu()).not.toBeNull();
    const web = win.options.webPreferences as Record<string, unknown>;
    expect(web.preload).toMatch(/dist-electron[\\/]preload\.cjs$/);
    expect(web).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false });
    expect(win.webContents.getURL()).toMatch(/^file:\/\/.*\/dist\/renderer\/index\.html$/);
  });

  it('relays a call from the window to the core and the reply back', async () => {
    const win = BrowserWindow.getAllWindows()[0]!;
    const event = {
      sender: win.webContents,
      senderFrame: win.webContents.mainFrame,
    } as unknown as IpcMainInvokeEvent;
    const reply = invokeMain('api:run/list', event, { limit: 2 });
    const sent = await until(
      () => child.posted.find((m) => (m as { type: string }).type === 'invoke') as { id: number } | undefined,
      'the relayed call',
    );
    expect(sent).toMatchObject({ type: 'invoke', name: 'run/list', args: { limit: 2 } });
    child.emit('message', { type: 'reply', id: sent.id, value: [] });
    await expect(reply).resolves.toEqual({ ok: true, value: [] });
  });

  it("relays the core's events to the window", () => {
    const win = BrowserWindow.getAllWindows()[0]!;
    child.emit('message', { type: 'push', name: 'run/status', payload: { runId: 2, status: 'completed' } });
    expect(win.webContents.sent).toContainEqual(['event:run/status', { runId: 2, status: 'completed' }]);
  });

  it('quitting waits for the core to pause its runs and close', async () => {
    const preventDefault = vi.fn();
    app.emit('before-quit', { preventDefault });
    expect(preventDefault).toHaveBeenCalled();
    expect(child.posted.at(-1)).toEqual({ type: 'shutdown' });
    expect(quit).not.toHaveBeenCalled();
    child.emit('message', { type: 'closed' });
    await until(() => quit.mock.calls.length > 0 || undefined, 'app.quit');
    expect(child.killed).toBe(true);
    // The second before-quit (from app.quit) goes through.
    const again = vi.fn();
    app.emit('before-quit', { preventDefault: again });
    expect(again).not.toHaveBeenCalled();
  });
});
