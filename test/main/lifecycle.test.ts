// Single instance, quit and crash handling, the menu, and where the data, assets and native binding come from.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { setupLifecycle, setupSingleInstance } from '../../main/lifecycle.ts';
import { menuTemplate, setupMenu } from '../../main/menu.ts';
import { assetsDir, coreEnv, setupDataDir } from '../../main/paths.ts';
import { createMainWindow } from '../../main/window.ts';
import type { BrowserWindow } from '../mocks/electron.ts';
import { Menu, app, dialog, resetElectronMock, shell } from '../mocks/electron.ts';

beforeEach(() => resetElectronMock());
afterEach(() => vi.restoreAllMocks());

function fakeCore() {
  const exits: ((code: number) => void)[] = [];
  return {
    running: true,
    close: vi.fn(async () => undefined),
    onExit: (l: (code: number) => void) => (exits.push(l), () => undefined),
    crash: (code: number) => exits.forEach((l) => l(code)),
  };
}

describe('single instance', () => {
  it('a second instance quits at once', () => {
    vi.spyOn(app, 'requestSingleInstanceLock').mockReturnValue(false);
    const quit = vi.spyOn(app, 'quit');
    expect(setupSingleInstance()).toBe(false);
    expect(quit).toHaveBeenCalled();
  });

  it('the first instance focuses its window when a second one starts', () => {
    expect(setupSingleInstance()).toBe(true);
    const win = createMainWindow({ indexHtml: '/x/index.html' }, '/p.cjs') as unknown as BrowserWindow;
    const focus = vi.spyOn(win, 'focus');
    app.emit('second-instance');
    expect(focus).toHaveBeenCalled();
  });
});

describe('lifecycle', () => {
  it('reopens a window on activate when none is open', () => {
    const open = vi.fn();
    setupLifecycle(fakeCore(), open);
    app.emit('activate');
    expect(open).toHaveBeenCalledTimes(1);
  });

  it('an unexpected core exit is reported and the app quits', () => {
    const core = fakeCore();
    const box = vi.spyOn(dialog, 'showErrorBox');
    const quit = vi.spyOn(app, 'quit');
    setupLifecycle(core, () => undefined);
    core.crash(3);
    expect(box.mock.calls[0]![1]).toMatch(/exit code 3.*resumed/s);
    expect(quit).toHaveBeenCalled();
  });
});

describe('menu', () => {
  it('has developer tools and reload only in development', () => {
    const labels = (dev: boolean) =>
      JSON.stringify(
        menuTemplate({ isMac: false, isDev: dev, dataDir: '/d' }).map((m) => m.submenu ?? m.role),
      );
    expect(labels(true)).toContain('toggleDevTools');
    expect(labels(false)).not.toContain('toggleDevTools');
    expect(labels(false)).not.toContain('reload');
    expect(menuTemplate({ isMac: true, isDev: false, dataDir: '/d' })[0]).toEqual({ role: 'appMenu' });
  });

  it('opens the data folder, and is installed as the application menu', () => {
    const openPath = vi.spyOn(shell, 'openPath');
    const file = menuTemplate({ isMac: false, isDev: false, dataDir: '/data' })[0]!;
    const item = (file.submenu as { label?: string; click?: () => void }[]).find(
      (i) => i.label === 'Open Data Folder',
    );
    item!.click!();
    expect(openPath).toHaveBeenCalledWith('/data');
    setupMenu('/data');
    expect(Menu.getApplicationMenu()).not.toBeNull();
  });
});

describe('paths', () => {
  it("the data folder is userData, or FLOPS_DATA_DIR (which then moves Chromium's data too)", () => {
    expect(setupDataDir({})).toBe(app.getPath('userData'));
    expect(setupDataDir({ FLOPS_DATA_DIR: '/tmp/e2e-1' })).toBe('/tmp/e2e-1');
    expect(app.getPath('userData')).toBe('/tmp/e2e-1');
  });

  it('assets come from the checkout unpackaged and from resources packaged', () => {
    expect(assetsDir()).toBe(join(process.cwd(), 'assets'));
    app.isPackaged = true;
    const resources = '/opt/FLOPS Workbench/resources';
    vi.stubGlobal(
      'process',
      Object.assign(Object.create(process) as NodeJS.Process, { resourcesPath: resources }),
    );
    try {
      expect(assetsDir()).toBe(join(resources, 'assets'));
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("the core's env names the assets and keeps an explicit binding", () => {
    expect(coreEnv({ A: '1' })).toMatchObject({ A: '1', FLOPS_ASSETS_DIR: assetsDir() });
    expect(coreEnv({ FLOPS_SQLITE_BINDING: '/x.node' }).FLOPS_SQLITE_BINDING).toBe('/x.node');
  });
});
