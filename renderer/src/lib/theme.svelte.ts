// Light/dark theme: follows prefers-color-scheme unless the user picks one; the choice is remembered. The theme is
// applied as `data-theme` on <html> (by this class, synchronously), which switches the CSS variables in app.css.

export type ThemePreference = 'system' | 'light' | 'dark';
const KEY = 'flops.theme';

export class Theme {
  preference = $state<ThemePreference>('system');
  systemDark = $state(false);
  readonly #media: MediaQueryList | undefined;
  readonly #root: HTMLElement;
  readonly #onMedia = (e: MediaQueryListEvent): void => {
    this.systemDark = e.matches;
    this.#apply();
  };

  constructor(win: Window = window) {
    this.#root = win.document.documentElement;
    this.#media = win.matchMedia?.('(prefers-color-scheme: dark)');
    this.systemDark = this.#media?.matches ?? false;
    this.#media?.addEventListener('change', this.#onMedia);
    const stored = safeGet(win, KEY);
    if (stored === 'light' || stored === 'dark' || stored === 'system') this.preference = stored;
    this.#apply();
  }

  /**
   * Written at once (not in an effect), so a chart that reads the CSS variables when the theme changes already
   * sees the new values.
   */
  #apply(): void {
    this.#root.dataset.theme = this.resolved;
  }

  get resolved(): 'light' | 'dark' {
    if (this.preference === 'system') return this.systemDark ? 'dark' : 'light';
    return this.preference;
  }

  set(preference: ThemePreference): void {
    this.preference = preference;
    this.#apply();
    try {
      localStorage.setItem(KEY, preference);
    } catch {
      // storage may be unavailable (private mode); the choice then lasts for the session
    }
  }

  /** Flips between light and dark (leaving 'system'). */
  toggle(): void {
    this.set(this.resolved === 'dark' ? 'light' : 'dark');
  }

  dispose(): void {
    this.#media?.removeEventListener('change', this.#onMedia);
  }
}

function safeGet(win: Window, key: string): string | null {
  try {
    return win.localStorage.getItem(key);
  } catch {
    return null;
  }
}
