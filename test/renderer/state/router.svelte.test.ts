import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import { Router } from '../../../renderer/src/lib/router.svelte.ts';
import { Theme } from '../../../renderer/src/lib/theme.svelte.ts';

describe('Router', () => {
  afterEach(() => {
    window.location.hash = '';
  });

  it('follows hashchange and navigates', () => {
    window.location.hash = '#/runs/5';
    const router = new Router();
    expect(router.route).toEqual({ page: 'run', id: 5 });
    window.location.hash = '#/settings';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    flushSync();
    expect(router.route).toEqual({ page: 'settings' });
    router.go({ page: 'compare', ids: [1, 2] });
    expect(window.location.hash).toBe('#/compare?ids=1,2');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(router.route).toEqual({ page: 'compare', ids: [1, 2] });
    router.dispose();
    window.location.hash = '#/models';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(router.route).toEqual({ page: 'compare', ids: [1, 2] });
  });
});

describe('Theme', () => {
  afterEach(() => localStorage.clear());

  it('remembers an explicit choice and toggles', () => {
    const theme = new Theme();
    expect(theme.preference).toBe('system');
    theme.set('dark');
    expect(theme.resolved).toBe('dark');
    expect(new Theme().preference).toBe('dark');
    theme.toggle();
    expect(theme.resolved).toBe('light');
    expect(localStorage.getItem('flops.theme')).toBe('light');
    theme.dispose();
  });
});
