// Symbol-keyed context (conventions 12): the transport and the app-wide state classes, set once by App.svelte and
// read by pages and components.
import { getContext, setContext } from 'svelte';

import type { BridgeApi } from './api.ts';
import type { Dialogs } from './state/dialogs.svelte.ts';
import type { Router } from './router.svelte.ts';
import type { Theme } from './theme.svelte.ts';

const API = Symbol('api');
const ROUTER = Symbol('router');
const THEME = Symbol('theme');
const DIALOGS = Symbol('dialogs');

function required<T>(key: symbol, what: string): T {
  const value = getContext<T | undefined>(key);
  if (value === undefined) throw new Error(`${what} is not in context: render inside <App>`);
  return value;
}

export const setApi = (api: BridgeApi): BridgeApi => setContext(API, api);
export const getApi = (): BridgeApi => required<BridgeApi>(API, 'the API');

export const setRouter = (router: Router): Router => setContext(ROUTER, router);
export const getRouter = (): Router => required<Router>(ROUTER, 'the router');

export const setTheme = (theme: Theme): Theme => setContext(THEME, theme);
export const getTheme = (): Theme => required<Theme>(THEME, 'the theme');

export const setDialogs = (dialogs: Dialogs): Dialogs => setContext(DIALOGS, dialogs);
export const getDialogs = (): Dialogs => required<Dialogs>(DIALOGS, 'the dialogs');
