import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { settle, testBridge } from '../bridge.ts';
import { settingsView, systemInfo } from '../fixtures.ts';
import { mountAt } from './mount.ts';

describe('Settings page', () => {
  let page: Awaited<ReturnType<typeof mountAt>>;
  afterEach(() => page.destroy());

  it('edits the threads, shows the validation message, saves, and shows the provider of the last run', async () => {
    let stored: HandlerResult<'settings/get'> = settingsView();
    const sent: HandlerArgs<'settings/set'>[] = [];
    const b = testBridge({
      'system/info': () => systemInfo(),
      'settings/get': () => stored,
      'settings/set': (patch) => {
        sent.push(patch);
        stored = settingsView({
          stored: { providers: null, threads: patch.threads ?? null, concurrency: null },
          effective: { providers: ['cpu'], device: 'cpu', threads: patch.threads ?? null, concurrency: 1 },
        });
        return stored;
      },
    });
    page = await mountAt('#/settings', b);
    expect(page.$('[data-testid="last-run-provider"]')?.textContent).toMatch(/head-lr, ran on\s+cpu/);
    expect(page.$('[data-testid="data-dir"]')?.textContent).toBe('/data/flops');
    expect(page.$('[data-testid="data-dir-help"]')?.textContent).toMatch(/--data-dir FOLDER/);
    const threads = page.$<HTMLInputElement>('#set-threads')!;
    const save = page.$$<HTMLButtonElement>('button').find((x) => x.textContent?.trim() === 'Save')!;
    expect(threads.disabled).toBe(true);
    expect(save.disabled).toBe(true); // nothing changed yet

    page.$<HTMLInputElement>('[data-testid="threads-auto"]')!.click();
    flushSync();
    expect(threads.disabled).toBe(false);
    threads.value = '0';
    threads.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(page.$('#set-threads-issues')?.textContent).toContain(
      'Threads must be a whole number from 1 to 256.',
    );
    expect(threads.getAttribute('aria-invalid')).toBe('true');

    threads.value = '2';
    threads.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(page.$('#set-threads-issues')).toBeNull();
    expect(save.disabled).toBe(false);
    page.$<HTMLFormElement>('form.execution')!.requestSubmit();
    await settle();
    flushSync();
    // Only what changed: an untouched field keeps whatever the session started with.
    expect(sent).toEqual([{ threads: 2 }]);
    expect(page.$('[data-testid="settings-saved"]')?.textContent).toMatch(/Saved/);
    expect(page.$('main')?.textContent ?? page.target.textContent).toMatch(/2 threads, 1 at once/);
  });

  it('lists selectable providers in a chosen order', async () => {
    const b = testBridge({ 'system/info': () => systemInfo(), 'settings/get': () => settingsView() });
    page = await mountAt('#/settings', b);
    page.$<HTMLInputElement>('[data-testid="providers-custom"]')!.click();
    flushSync();
    const names = () => page.$$('ol.order li .mono').map((e) => e.textContent);
    expect(names()).toEqual(['cpu', 'webgpu']);
    page.$<HTMLInputElement>('[data-testid="provider-webgpu"]')!.click();
    flushSync();
    page
      .$$<HTMLButtonElement>('button')
      .find((x) => x.getAttribute('aria-label') === 'Move webgpu up')!
      .click();
    flushSync();
    expect(names()).toEqual(['webgpu', 'cpu']);
    expect(page.$('label[for="set-concurrency"]')?.textContent).toBe('Runs at once on webgpu');
  });
});
