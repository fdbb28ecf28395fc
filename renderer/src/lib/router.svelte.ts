// The hash router: one source of truth for the current route. Links are plain `<a href="#/...">`, so keyboard
// navigation and the browser's back/forward work without any code here.
import { formatRoute, parseRoute, type Route } from './routes.ts';

export class Router {
  route = $state.raw<Route>({ page: 'runs' });
  readonly #window: Window;
  readonly #onChange = (): void => {
    this.route = parseRoute(this.#window.location.hash);
  };

  constructor(win: Window = window) {
    this.#window = win;
    this.route = parseRoute(win.location.hash);
    win.addEventListener('hashchange', this.#onChange);
  }

  /** Navigates (adds a history entry); the route updates on the resulting hashchange, or at once if unchanged. */
  go(route: Route): void {
    const hash = formatRoute(route);
    if (this.#window.location.hash === hash) this.route = parseRoute(hash);
    else this.#window.location.hash = hash;
  }

  dispose(): void {
    this.#window.removeEventListener('hashchange', this.#onChange);
  }
}
