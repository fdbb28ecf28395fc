import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import App from '../../renderer/src/App.svelte';
import { settle, testBridge } from './bridge.ts';
import { dataset, model, runSummary } from './fixtures.ts';

function bridge() {
  return testBridge({
    'run/list': () => [runSummary({ id: 1, name: 'first run' })],
    'dataset/list': () => [dataset()],
    'model/list': () => [model()],
    'model/modes': () => ({ modelId: 1, total: 100_000, numClasses: 5, modes: [] }),
    'run/presets': () => [],
    'system/info': () => {
      throw new Error('not needed');
    },
  });
}

describe('App', () => {
  let target: HTMLElement;
  let app: ReturnType<typeof mount>;

  beforeEach(() => {
    window.location.hash = '';
    target = document.createElement('div');
    document.body.appendChild(target);
  });

  afterEach(() => {
    unmount(app);
    target.remove();
    delete document.documentElement.dataset.theme;
  });

  it('renders the title it is given and the runs table by default', async () => {
    app = mount(App, { target, props: { title: 'Workbench test', api: bridge() } });
    flushSync();
    expect(target.querySelector('.brand')?.textContent).toBe('Workbench test');
    expect(target.querySelector('h1')?.textContent).toBe('Runs');
    await settle();
    flushSync();
    expect(target.querySelector('tbody')?.textContent).toContain('first run');
  });

  it('navigates with the hash, marks the current page and moves focus to its heading', async () => {
    app = mount(App, { target, props: { api: bridge() } });
    flushSync();
    window.location.hash = '#/datasets';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    flushSync();
    await settle();
    flushSync();
    expect(target.querySelector('h1')?.textContent).toBe('Datasets');
    expect(target.querySelector('a[aria-current="page"]')?.textContent).toBe('Datasets');
    expect(document.activeElement).toBe(target.querySelector('h1'));
    expect(target.textContent).toContain('fashion-mnist-demo');
  });

  it('shows a not-found page for unknown routes', () => {
    window.location.hash = '#/nope';
    app = mount(App, { target, props: { api: bridge() } });
    flushSync();
    expect(target.querySelector('h1')?.textContent).toBe('Not found');
  });

  it('toggles between light and dark themes', () => {
    app = mount(App, { target, props: { api: bridge() } });
    flushSync();
    const before = document.documentElement.dataset.theme;
    expect(before === 'light' || before === 'dark').toBe(true);
    target.querySelector<HTMLButtonElement>('button.theme')?.click();
    flushSync();
    expect(document.documentElement.dataset.theme).toBe(before === 'dark' ? 'light' : 'dark');
  });
});
