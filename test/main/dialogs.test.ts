// The main-only dialog handlers: registered through the same wrapper (same sender checks), arguments validated
// with zod, the dialog modal to the asking window, a cancelled dialog answered with path: null, and
// 'dialog/available' answering true (flops serve answers false: test/app/server).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { IpcMainInvokeEvent } from 'electron';

import type { ShellHandlerName } from '../../app/contract.ts';
import { setupDialogs } from '../../main/dialogs.ts';
import { IpcApi, type IpcResult } from '../../main/ipc.ts';
import { createMainWindow, senderPolicy, type RendererSource } from '../../main/window.ts';
import type { BrowserWindow } from '../mocks/electron.ts';
import { WebFrameMain, dialog, invokeMain, resetElectronMock } from '../mocks/electron.ts';

const source: RendererSource = { indexHtml: '/opt/flops/dist/renderer/index.html' };
let win: BrowserWindow;
let event: IpcMainInvokeEvent;

beforeEach(() => {
  resetElectronMock();
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  setupDialogs(new IpcApi(senderPolicy(source)));
  win = createMainWindow(source, '/p.cjs') as unknown as BrowserWindow;
  event = {
    sender: win.webContents,
    senderFrame: win.webContents.mainFrame,
  } as unknown as IpcMainInvokeEvent;
});
afterEach(() => vi.restoreAllMocks());

const call = async (name: string, e: IpcMainInvokeEvent, args?: unknown) =>
  (await invokeMain(`api:${name}`, e, args)) as IpcResult;

describe('dialog handlers', () => {
  it('open-folder shows a directory picker modal to the asking window', async () => {
    const show = vi
      .spyOn(dialog, 'showOpenDialog')
      .mockResolvedValue({ canceled: false, filePaths: ['/data/x'] });
    await expect(call('dialog/open-folder', event, { title: 'Import images' })).resolves.toEqual({
      ok: true,
      value: { available: true, path: '/data/x' },
    });
    expect(show).toHaveBeenCalledWith(win, {
      title: 'Import images',
      properties: ['openDirectory', 'dontAddToRecent'],
    });
  });

  it('open-file passes filters through, and a cancelled dialog gives path null', async () => {
    const show = vi.spyOn(dialog, 'showOpenDialog').mockResolvedValue({ canceled: true, filePaths: [] });
    const filters = [{ name: 'Models', extensions: ['onnx', 'safetensors'] }];
    await expect(call('dialog/open-file', event, { filters })).resolves.toEqual({
      ok: true,
      value: { available: true, path: null },
    });
    expect(show).toHaveBeenCalledWith(
      win,
      expect.objectContaining({ filters, properties: ['openFile', 'dontAddToRecent'] }),
    );
  });

  it('bad arguments are refused field by field before any dialog opens', async () => {
    const show = vi.spyOn(dialog, 'showOpenDialog');
    const result = await call('dialog/open-file', event, {
      title: 7,
      filters: [{ name: 'x', extensions: ['../../etc'] }],
      extra: 1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('ARGS_INVALID');
    expect(result.error.issues?.map((i) => i.field).sort()).toEqual([
      '(root)',
      'filters.0.extensions.0',
      'title',
    ]);
    expect(show).not.toHaveBeenCalled();
  });

  it('available answers true under Electron, refuses arguments, and opens nothing', async () => {
    const show = vi.spyOn(dialog, 'showOpenDialog');
    await expect(call('dialog/available', event, {})).resolves.toEqual({
      ok: true,
      value: { available: true },
    });
    const bad = await call('dialog/available', event, { probe: 1 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'ARGS_INVALID', issues: [{ field: '(root)' }] } });
    expect(show).not.toHaveBeenCalled();
  });

  it('registers exactly the contract shell handlers through the checked wrapper', async () => {
    const foreign = { ...event, senderFrame: null } as unknown as IpcMainInvokeEvent;
    for (const name of [
      'dialog/available',
      'dialog/open-folder',
      'dialog/open-file',
    ] satisfies ShellHandlerName[]) {
      await expect(call(name, foreign, {})).resolves.toMatchObject({
        ok: false,
        error: { code: 'IPC_FORBIDDEN' },
      });
    }
  });

  it('a subframe cannot open a dialog', async () => {
    const show = vi.spyOn(dialog, 'showOpenDialog');
    const iframe = new WebFrameMain(win.webContents.getURL(), win.webContents.mainFrame);
    const result = await call(
      'dialog/open-folder',
      { ...event, senderFrame: iframe } as IpcMainInvokeEvent,
      {},
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN' } });
    expect(show).not.toHaveBeenCalled();
  });
});

describe('bad input', () => {
  it('open-folder / open-file: a string, an array, a 5000-character path, bad filters: named, no dialog opened', async () => {
    const show = vi.spyOn(dialog, 'showOpenDialog');
    const fields = async (name: string, args: unknown) => {
      const result = await call(name, event, args);
      expect(result.ok).toBe(false);
      if (result.ok) return [];
      expect(result.error.code).toBe('ARGS_INVALID');
      return result.error.issues?.map((i) => i.field) ?? [];
    };
    expect(await fields('dialog/open-folder', 'C:\\data')).toEqual(['(root)']);
    expect(await fields('dialog/open-file', [1, 2])).toEqual(['(root)']);
    expect(
      await fields('dialog/open-folder', { defaultPath: 'x'.repeat(5000), title: 'y'.repeat(201) }),
    ).toEqual(['title', 'defaultPath']);
    expect(await fields('dialog/open-file', { filters: { name: 'Models' } })).toEqual(['filters']);
    const many = Array.from({ length: 11 }, () => ({ name: 'M', extensions: ['onnx'] }));
    expect(await fields('dialog/open-file', { filters: many })).toEqual(['filters']);
    expect(await fields('dialog/open-file', { filters: [{ name: '', extensions: [] }] })).toEqual([
      'filters.0.name',
      'filters.0.extensions',
    ]);
    expect(await fields('dialog/open-file', { filters: [{ name: 'M', extensions: ['.onnx'] }] })).toEqual([
      'filters.0.extensions.0',
    ]);
    expect(show).not.toHaveBeenCalled();
  });

  it('a dialog that fails in Electron answers a typed error, not a hang', async () => {
    vi.spyOn(dialog, 'showOpenDialog').mockRejectedValue(new Error('no display'));
    const result = await call('dialog/open-folder', event, {});
    expect(result).toMatchObject({ ok: false, error: { message: expect.stringMatching(/no display/) } });
    if (!result.ok) expect(typeof result.error.code).toBe('string');
    // A plain Error carries no code: the typed answer says INTERNAL.
    expect(result).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });
});
