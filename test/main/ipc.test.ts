// The IPC wrapper: who may call (GHSA-mq8j-3h7h-p8g7: the sender frame must be the top frame of an app window
// showing our own page), what crosses (one argument object in, an {ok, value} | {ok, error} envelope out), and
// where events go. The last suite wires the wrapper to the real core (worker thread, temp SQLite workspace).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { IpcMainInvokeEvent } from 'electron';

import { CORE_ENTRY, CoreHost, workerCoreChannel } from '../../main/core-host.ts';
import { IpcApi, broadcast, errorData, setupEvents, setupIpc, type IpcResult } from '../../main/ipc.ts';
import { createMainWindow, senderPolicy, type RendererSource } from '../../main/window.ts';
import {
  BrowserWindow,
  WebFrameMain,
  handlers,
  invokeMain,
  resetElectronMock,
  type WebContents,
} from '../mocks/electron.ts';

const source: RendererSource = { indexHtml: '/opt/flops/resources/app.asar/dist/renderer/index.html' };
const policy = senderPolicy(source);

/** The event Electron hands a handler for a call from `frame` of `contents`. */
function eventFrom(
  contents: WebContents,
  frame: WebFrameMain | null = contents.mainFrame,
): IpcMainInvokeEvent {
  return { sender: contents, senderFrame: frame } as unknown as IpcMainInvokeEvent;
}

function appWindow(): BrowserWindow {
  return createMainWindow(source, '/preload.cjs') as unknown as BrowserWindow;
}

async function call(channel: string, event: IpcMainInvokeEvent, ...args: unknown[]): Promise<IpcResult> {
  return (await invokeMain(channel, event, ...args)) as IpcResult;
}

beforeEach(() => {
  resetElectronMock();
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

describe('sender checks', () => {
  let reached: unknown[];
  beforeEach(() => {
    reached = [];
    new IpcApi(policy).handle('run/list', (args) => {
      reached.push(args);
      return ['ok'];
    });
  });

  it('lets the top frame of an app window showing our index.html through', async () => {
    const win = appWindow();
    expect(win.webContents.getURL()).toBe('file:///opt/flops/resources/app.asar/dist/renderer/index.html');
    await expect(call('api:run/list', eventFrom(win.webContents), { limit: 5 })).resolves.toEqual({
      ok: true,
      value: ['ok'],
    });
    expect(reached).toEqual([{ limit: 5 }]);
  });

  it('keeps hash routes of the same page', async () => {
    const win = appWindow();
    win.webContents.mainFrame.url += '#/runs/3';
    expect((await call('api:run/list', eventFrom(win.webContents), {})).ok).toBe(true);
  });

  it('refuses a window the app did not create (a foreign frame)', async () => {
    const foreign = new BrowserWindow();
    await foreign.loadFile(source.indexHtml);
    const result = await call('api:run/list', eventFrom(foreign.webContents), {});
    expect(result).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN' } });
    expect(JSON.stringify(result)).toMatch(/not an app window/);
    expect(reached).toEqual([]);
  });

  it('refuses a subframe of an app window, even one showing our page', async () => {
    const win = appWindow();
    const iframe = new WebFrameMain(win.webContents.getURL(), win.webContents.mainFrame);
    const result = await call('api:run/list', eventFrom(win.webContents, iframe), {});
    expect(result).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN', message: /subframe/ } });
    expect(reached).toEqual([]);
  });

  it('refuses an app window that shows some other page', async () => {
    const win = appWindow();
    for (const url of [
      'https://evil.example/',
      'file:///tmp/other.html',
      'file://server/opt/flops/resources/app.asar/dist/renderer/index.html',
      'about:blank',
    ]) {
      win.webContents.mainFrame.url = url;
      const result = await call('api:run/list', eventFrom(win.webContents), {});
      expect(result, url).toMatchObject({
        ok: false,
        error: { code: 'IPC_FORBIDDEN', message: /not the app/ },
      });
    }
    expect(reached).toEqual([]);
  });

  it('refuses a call whose frame is gone', async () => {
    const win = appWindow();
    const result = await call('api:run/list', eventFrom(win.webContents, null), {});
    expect(result).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN', message: /gone/ } });
  });

  it('refuses a closed app window', async () => {
    const win = appWindow();
    const contents = win.webContents;
    win.close();
    expect((await call('api:run/list', eventFrom(contents), {})).ok).toBe(false);
  });

  it('rejects an unknown channel: nothing is registered for it', async () => {
    const win = appWindow();
    await expect(invokeMain('api:run/drop-tables', eventFrom(win.webContents), {})).rejects.toThrow(
      /No handler registered/,
    );
    await expect(invokeMain('run/list', eventFrom(win.webContents), {})).rejects.toThrow(/No handler/);
  });
});

describe('registration and arguments', () => {
  it('accepts only domain/verb names, once each', () => {
    const ipc = new IpcApi(policy);
    for (const bad of ['', 'run', 'run/', '/list', 'Run/List', 'run/list/x', '__proto__', 'run/list;']) {
      expect(() => ipc.handle(bad, () => 1), bad).toThrow(/not a handler name/);
    }
    ipc.handle('dataset/import-progress', () => 1);
    expect(() => ipc.handle('dataset/import-progress', () => 1)).toThrow(/twice/);
    expect(ipc.names).toEqual(['dataset/import-progress']);
    ipc.dispose();
    expect(handlers.size).toBe(0);
  });

  it('passes exactly one argument object and refuses more', async () => {
    const seen: unknown[] = [];
    new IpcApi(policy).handle('run/get', (args) => seen.push(args));
    const event = eventFrom(appWindow().webContents);
    await call('api:run/get', event, { id: 1 });
    await call('api:run/get', event);
    expect(seen).toEqual([{ id: 1 }, undefined]);
    const result = await call('api:run/get', event, { id: 1 }, { extra: true });
    expect(result).toMatchObject({ ok: false, error: { code: 'ARGS_INVALID', message: /one argument/ } });
    expect(seen).toHaveLength(2);
  });

  it('turns a thrown error into its code, message and field issues', async () => {
    new IpcApi(policy).handle('run/create', () => {
      throw Object.assign(new Error('invalid arguments for run/create'), {
        name: 'InvalidArgumentsError',
        code: 'ARGS_INVALID',
        issues: [{ field: 'spec.train.lr', message: 'must be positive' }],
      });
    });
    const result = await call('api:run/create', eventFrom(appWindow().webContents), {});
    expect(result).toEqual({
      ok: false,
      error: {
        name: 'InvalidArgumentsError',
        code: 'ARGS_INVALID',
        message: 'invalid arguments for run/create',
        issues: [{ field: 'spec.train.lr', message: 'must be positive' }],
      },
    });
    expect(errorData('boom')).toEqual({ name: 'Error', code: 'INTERNAL', message: 'boom' });
  });
});

describe('events', () => {
  it('go to app windows showing the app, never to other windows', () => {
    const a = appWindow();
    const b = appWindow();
    const foreign = new BrowserWindow();
    void foreign.loadFile(source.indexHtml);
    b.webContents.mainFrame.url = 'https://evil.example/';
    const targets = [a, b, foreign].map((w) => w.webContents) as unknown as Electron.WebContents[];
    broadcast('run/status', { runId: 1, status: 'running' }, targets, policy);
    expect(a.webContents.sent).toEqual([['event:run/status', { runId: 1, status: 'running' }]]);
    expect(b.webContents.sent).toEqual([]);
    expect(foreign.webContents.sent).toEqual([]);
  });
});

describe('wired to the real core (worker thread, temp SQLite workspace)', () => {
  let dataDir: string;
  let core: CoreHost;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'flops-ipc-'));
    core = new CoreHost(workerCoreChannel(CORE_ENTRY), { dataDir });
    await core.ready;
  });
  afterAll(async () => {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    setupIpc(core, policy);
  });

  it('registers one channel per contract handler', () => {
    expect([...handlers.keys()].sort()).toEqual(core.handlers.map((n) => `api:${n}`).sort());
    expect(handlers.has('api:run/list')).toBe(true);
  });

  it('a valid call from the app window reaches the use case and its SQLite store', async () => {
    const event = eventFrom(appWindow().webContents);
    await expect(call('api:run/list', event, {})).resolves.toEqual({ ok: true, value: [] });
    const info = await call('api:system/info', event, {});
    expect(info).toMatchObject({ ok: true, value: { dataDir, database: join(dataDir, 'flops.db') } });
  });

  it("bad arguments come back with the use case's zod issues, field by field", async () => {
    const event = eventFrom(appWindow().webContents);
    const result = await call('api:run/list', event, { sort: 'nonsense', offset: -3 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('ARGS_INVALID');
    expect(result.error.issues?.map((i) => i.field).sort()).toEqual(['offset', 'sort']);
  });

  it('a refused sender never reaches the core', async () => {
    const invoke = vi.spyOn(core, 'invoke');
    const win = appWindow();
    const iframe = new WebFrameMain(win.webContents.getURL(), win.webContents.mainFrame);
    expect((await call('api:run/list', eventFrom(win.webContents, iframe), {})).ok).toBe(false);
    expect(invoke).not.toHaveBeenCalled();
  });

  it("pushes the core's events to the app windows", () => {
    const win = appWindow();
    const pushes: ((name: string, payload: unknown) => void)[] = [];
    const fakeCore = {
      onPush: (l: (name: string, payload: unknown) => void) => (pushes.push(l), () => undefined),
    };
    setupEvents(
      fakeCore as unknown as Pick<CoreHost, 'onPush'>,
      () => [win.webContents as unknown as Electron.WebContents],
      policy,
    );
    pushes[0]!('run/progress', { runId: 1, step: 3 });
    expect(win.webContents.sent).toEqual([['event:run/progress', { runId: 1, step: 3 }]]);
  });
});
