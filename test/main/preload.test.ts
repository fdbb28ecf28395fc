// The preload's exposed surface: exactly { invoke, on } on window.api, typed by the contract; calls go to
// `api:<name>` and come back unwrapped; failures keep their code and issues; listeners get payloads only and can
// unsubscribe; ipcRenderer is never reachable. The last test builds the real CommonJS bundle and runs it the way
// a sandboxed preload runs: a plain script whose require() knows only 'electron'.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';

import type { BridgeApi } from '../../app/contract.ts';
import { exposed, ipcRenderer, respondToInvoke } from '../mocks/electron.ts';

let api: BridgeApi;
const calls: [string, unknown[]][] = [];

beforeAll(async () => {
  respondToInvoke((channel, ...args) => {
    calls.push([channel, args]);
    if (channel === 'api:run/get') {
      return {
        ok: false,
        error: {
          name: 'InvalidArgumentsError',
          code: 'ARGS_INVALID',
          message: 'invalid arguments for run/get',
          issues: [{ field: 'id', message: 'Expected number' }],
        },
      };
    }
    if (channel === 'api:run/delete') return undefined;
    return { ok: true, value: { echo: args[0] } };
  });
  await import('../../main/preload.ts');
  api = exposed.get('api') as BridgeApi;
});

describe('window.api', () => {
  it('is the only thing exposed, and holds exactly invoke and on', () => {
    expect([...exposed.keys()]).toEqual(['api']);
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on']);
    expect(typeof api.invoke).toBe('function');
    expect(typeof api.on).toBe('function');
  });

  it('never reaches ipcRenderer', () => {
    const seen = new Set<unknown>();
    const walk = (value: unknown): void => {
      if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value))
        return;
      seen.add(value);
      expect(value).not.toBe(ipcRenderer);
      for (const key of Object.getOwnPropertyNames(value)) {
        if (key === 'caller' || key === 'arguments') continue;
        walk((value as Record<string, unknown>)[key]);
      }
    };
    walk(api);
  });

  it('invoke calls api:<name> with the one argument and resolves with the value', async () => {
    calls.length = 0;
    await expect(api.invoke('run/list', { limit: 3 })).resolves.toEqual({ echo: { limit: 3 } });
    expect(calls).toEqual([['api:run/list', [{ limit: 3 }]]]);
  });

  it('a failure rejects with the code, the message and every bad field', async () => {
    const error = await api.invoke('run/get', { id: 'x' as unknown as number }).catch((e: unknown) => e);
    expect(error).toEqual({
      name: 'InvalidArgumentsError',
      code: 'ARGS_INVALID',
      message: 'invalid arguments for run/get',
      issues: [{ field: 'id', message: 'Expected number' }],
    });
  });

  it('a malformed reply is an error, not undefined', async () => {
    await expect(api.invoke('run/delete', { id: 1 })).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('refuses a name that is not domain/verb without sending anything', async () => {
    calls.length = 0;
    for (const bad of ['', 'event:run/progress', 'api:run/list', '../x', 'run']) {
      await expect(api.invoke(bad as 'run/list', {})).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER' });
    }
    expect(calls).toEqual([]);
  });

  it('on delivers payloads only (never the IPC event) and returns an unsubscribe', () => {
    const got: unknown[][] = [];
    const off = api.on('run/status', (...args: unknown[]) => got.push(args));
    ipcRenderer.emit('event:run/status', { sender: ipcRenderer }, { runId: 1, status: 'running' });
    ipcRenderer.emit('event:run/progress', { sender: ipcRenderer }, { runId: 1 });
    expect(got).toEqual([[{ runId: 1, status: 'running' }]]);
    off();
    off();
    ipcRenderer.emit('event:run/status', { sender: ipcRenderer }, { runId: 1, status: 'paused' });
    expect(got).toHaveLength(1);
    expect(ipcRenderer.listenerCount('event:run/status')).toBe(0);
  });

  it('on refuses bad names and non-function listeners', () => {
    expect(() => api.on('nope' as 'run/status', () => undefined)).toThrow(TypeError);
    expect(() => api.on('run/status', 'x' as unknown as () => void)).toThrow(TypeError);
  });
});

describe('the built preload (dist-electron/preload.cjs)', () => {
  it('is one CommonJS script that requires only electron and exposes the same api', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'flops-preload-'));
    try {
      const { build } = await import('vite');
      await build({ configFile: 'main/preload.vite.config.ts', logLevel: 'silent', build: { outDir } });
      const code = readFileSync(join(outDir, 'preload.cjs'), 'utf8');
      expect(code).not.toMatch(/^\s*(import|export)\s/m);
      const required: string[] = [];
      const bridged = new Map<string, Record<string, unknown>>();
      const fakeElectron = {
        contextBridge: { exposeInMainWorld: (k: string, v: Record<string, unknown>) => bridged.set(k, v) },
        ipcRenderer: { invoke: async () => ({ ok: true, value: 42 }), on() {}, removeListener() {} },
      };
      // A sandboxed preload gets a require() polyfill with a handful of modules and no file access.
      runInNewContext(code, {
        require: (id: string) => {
          required.push(id);
          if (id !== 'electron') throw new Error(`module not found: ${id}`);
          return fakeElectron;
        },
      });
      expect(required).toEqual(['electron']);
      const built = bridged.get('api') as unknown as BridgeApi;
      expect(Object.keys(built).sort()).toEqual(['invoke', 'on']);
      await expect(built.invoke('run/list', {})).resolves.toBe(42);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
