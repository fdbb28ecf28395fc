// Mounts the whole App at a route with a test bridge, as the pages need the app's context.
import { flushSync, mount, unmount } from 'svelte';

import App from '../../../renderer/src/App.svelte';
import { settle, type TestBridge } from '../bridge.ts';

export async function mountAt(hash: string, api: TestBridge) {
  window.location.hash = hash;
  const target = document.createElement('div');
  document.body.appendChild(target);
  const app = mount(App, { target, props: { api } });
  flushSync();
  await settle();
  flushSync();
  return {
    target,
    $: <T extends Element = HTMLElement>(selector: string) => target.querySelector<T>(selector),
    $$: <T extends Element = HTMLElement>(selector: string) => [...target.querySelectorAll<T>(selector)],
    destroy() {
      unmount(app);
      target.remove();
      window.location.hash = '';
    },
  };
}

/** Types into an input as a user would (value + input event). */
export function type(input: HTMLInputElement | HTMLTextAreaElement | null, value: string): void {
  if (!input) throw new Error('no such input');
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}
