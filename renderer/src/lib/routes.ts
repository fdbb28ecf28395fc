// The hash routes, pure: parse a location hash into a Route and format a Route back. The router class
// (router.svelte.ts) only listens to `hashchange` and holds the current value.

export type Route =
  | { page: 'datasets' }
  | { page: 'models' }
  | { page: 'new-run'; from?: number }
  | { page: 'runs'; tag?: string }
  | { page: 'run'; id: number }
  | { page: 'compare'; ids: number[] }
  | { page: 'settings' }
  | { page: 'not-found'; path: string };

export type PageName = Route['page'];

export const NAV: readonly { page: PageName; label: string; href: string }[] = [
  { page: 'datasets', label: 'Datasets', href: '#/datasets' },
  { page: 'models', label: 'Models', href: '#/models' },
  { page: 'new-run', label: 'New run', href: '#/runs/new' },
  { page: 'runs', label: 'Runs', href: '#/runs' },
  { page: 'compare', label: 'Compare', href: '#/compare' },
  { page: 'settings', label: 'Settings', href: '#/settings' },
];

const positiveInt = (s: string | undefined): number | undefined => {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
};

/** '#/runs/12' → { page: 'run', id: 12 }. An empty hash is the runs table. */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const path = pathPart.replace(/\/+$/, '') || '/';
  const query = new URLSearchParams(queryPart);
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'runs' };
  const [head, second, third] = parts;
  switch (head) {
    case 'datasets':
      if (parts.length === 1) return { page: 'datasets' };
      break;
    case 'models':
      if (parts.length === 1) return { page: 'models' };
      break;
    case 'settings':
      if (parts.length === 1) return { page: 'settings' };
      break;
    case 'compare':
      if (parts.length === 1) {
        const ids = (query.get('ids') ?? '')
          .split(',')
          .map((s) => positiveInt(s.trim()))
          .filter((n): n is number => n !== undefined);
        return { page: 'compare', ids: [...new Set(ids)] };
      }
      break;
    case 'runs': {
      if (parts.length === 1) {
        // '#/runs?tag=sweep:x' opens the table filtered to one tag (where a launched sweep lands).
        const tag = query.get('tag')?.trim();
        return tag ? { page: 'runs', tag } : { page: 'runs' };
      }
      if (second === 'new' && third === undefined) {
        const from = positiveInt(query.get('from') ?? undefined);
        return from === undefined ? { page: 'new-run' } : { page: 'new-run', from };
      }
      const id = positiveInt(second);
      if (id !== undefined && third === undefined) return { page: 'run', id };
      break;
    }
  }
  return { page: 'not-found', path };
}

export function formatRoute(route: Route): string {
  switch (route.page) {
    case 'datasets':
    case 'models':
    case 'settings':
      return `#/${route.page}`;
    case 'runs':
      return route.tag ? `#/runs?tag=${encodeURIComponent(route.tag)}` : '#/runs';
    case 'new-run':
      return route.from === undefined ? '#/runs/new' : `#/runs/new?from=${route.from}`;
    case 'run':
      return `#/runs/${route.id}`;
    case 'compare':
      return route.ids.length ? `#/compare?ids=${route.ids.join(',')}` : '#/compare';
    case 'not-found':
      return `#${route.path}`;
  }
}

/** The nav entry a route belongs to (the run view belongs to Runs). */
export function navPage(route: Route): PageName | undefined {
  if (route.page === 'run') return 'runs';
  if (route.page === 'not-found') return undefined;
  return route.page;
}
