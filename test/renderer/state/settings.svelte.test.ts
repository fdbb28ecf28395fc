import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import type { HandlerArgs } from '../../../app/contract.ts';
import { SettingsState } from '../../../renderer/src/lib/state/settings.svelte.ts';
import { testBridge } from '../bridge.ts';
import { settingsView } from '../fixtures.ts';

describe('SettingsState', () => {
  it('starts from what is stored: automatic fields show what automatic means here', async () => {
    const state = new SettingsState(testBridge({ 'settings/get': () => settingsView() }));
    await state.load();
    expect(state.providersAuto).toBe(true);
    expect(state.providers).toEqual(['cpu']);
    expect(state.threadsAuto).toBe(true);
    expect(state.threads).toBe(4); // the cores
    expect(state.device).toBe('cpu');
    expect(state.dirty).toBe(false);
    // Selectable providers only (tensorrt is not one the engine can ask for), the chosen one first.
    expect(state.choices).toEqual([
      { name: 'cpu', enabled: true, bundled: true },
      { name: 'webgpu', enabled: false, bundled: true },
    ]);
  });

  it('checks every field as the server does, naming each', async () => {
    const state = new SettingsState(testBridge({ 'settings/get': () => settingsView() }));
    await state.load();
    state.providersAuto = false;
    state.toggle('cpu', false);
    state.threadsAuto = false;
    state.threads = 0;
    state.concurrencyAuto = false;
    state.concurrency = 2.5;
    flushSync();
    expect(state.valid).toBe(false);
    expect(state.localIssues.map((i) => i.field)).toEqual(['providers', 'threads', 'concurrency']);
    expect(state.issuesFor('threads')).toEqual(['Threads must be a whole number from 1 to 256.']);
    expect(state.issuesFor('concurrency')).toEqual(['Runs at once must be a whole number from 1 to 16.']);
    state.threads = 257;
    expect(state.issuesFor('threads')).toHaveLength(1);
    state.threads = 2;
    expect(state.issuesFor('threads')).toEqual([]);
    expect(await state.save()).toBe(false); // nothing is sent while a field is wrong
  });

  it('orders providers, saves every field (null for automatic) and keeps other devices’ concurrency', async () => {
    const sent: HandlerArgs<'settings/set'>[] = [];
    const stored = settingsView({
      stored: { providers: null, threads: null, concurrency: { webgpu: 3 } },
    });
    const b = testBridge({
      'settings/get': () => stored,
      'settings/set': (patch) => {
        sent.push(patch);
        return settingsView({
          stored: {
            providers: patch.providers ?? null,
            threads: patch.threads ?? null,
            concurrency: patch.concurrency ?? null,
          },
          effective: { providers: ['cpu', 'webgpu'], device: 'cpu', threads: 2, concurrency: 2 },
        });
      },
    });
    const state = new SettingsState(b);
    await state.load();
    state.providersAuto = false;
    state.toggle('webgpu', true);
    expect(state.providers).toEqual(['cpu', 'webgpu']);
    state.move('webgpu', -1);
    expect(state.providers).toEqual(['webgpu', 'cpu']);
    expect(state.device).toBe('webgpu');
    state.move('webgpu', 1);
    state.move('cpu', -1); // already first: no change
    expect(state.providers).toEqual(['cpu', 'webgpu']);
    state.threadsAuto = false;
    state.threads = 2;
    state.concurrencyAuto = false;
    state.concurrency = 2;
    expect(state.dirty).toBe(true);
    expect(await state.save()).toBe(true);
    expect(sent).toEqual([{ providers: ['cpu', 'webgpu'], threads: 2, concurrency: { webgpu: 3, cpu: 2 } }]);
    expect(state.saved).toBe(true);
    expect(state.view?.effective.threads).toBe(2);
    expect(state.dirty).toBe(false);
  });

  it('shows the server’s issues beside their fields when a save is refused', async () => {
    const b = testBridge({
      'settings/get': () => settingsView(),
      'settings/set': () => {
        throw Object.assign(new Error('invalid arguments for settings/set'), {
          code: 'ARGS_INVALID',
          issues: [{ field: 'providers.0', message: 'webgpu is not available in this build' }],
        });
      },
    });
    const state = new SettingsState(b);
    await state.load();
    state.providersAuto = false;
    state.toggle('webgpu', true);
    expect(await state.save()).toBe(false);
    expect(state.issuesFor('providers')).toEqual(['webgpu is not available in this build']);
    expect(state.saveError).toBeNull();
    expect(state.saved).toBe(false);
  });
});
