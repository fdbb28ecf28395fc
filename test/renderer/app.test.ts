import { flushSync, mount, unmount } from 'svelte';
import { expect, it } from 'vitest';

import App from '../../renderer/src/App.svelte';

it('renders the title it is given', () => {
  const target = document.createElement('div');
  const app = mount(App, { target, props: { title: 'Workbench test' } });
  flushSync();
  expect(target.querySelector('h1')?.textContent).toBe('Workbench test');
  unmount(app);
});
