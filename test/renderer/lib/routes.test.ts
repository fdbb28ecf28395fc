import { describe, expect, it } from 'vitest';

import { formatRoute, navPage, parseRoute, type Route } from '../../../renderer/src/lib/routes.ts';

describe('parseRoute', () => {
  it.each<[string, Route]>([
    ['', { page: 'runs' }],
    ['#/', { page: 'runs' }],
    ['#/datasets', { page: 'datasets' }],
    ['#/models/', { page: 'models' }],
    ['#/runs', { page: 'runs' }],
    ['#/runs?tag=sweep%3Ars%201', { page: 'runs', tag: 'sweep:rs 1' }],
    ['#/runs?tag=', { page: 'runs' }],
    ['#/runs/new', { page: 'new-run' }],
    ['#/runs/new?from=4', { page: 'new-run', from: 4 }],
    ['#/runs/12', { page: 'run', id: 12 }],
    ['#/compare?ids=3,1,3,x,0', { page: 'compare', ids: [3, 1] }],
    ['#/compare', { page: 'compare', ids: [] }],
    ['#/settings', { page: 'settings' }],
    ['#/runs/abc', { page: 'not-found', path: '/runs/abc' }],
    ['#/runs/0', { page: 'not-found', path: '/runs/0' }],
    ['#/nowhere', { page: 'not-found', path: '/nowhere' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('round-trips every route through formatRoute', () => {
    const routes: Route[] = [
      { page: 'datasets' },
      { page: 'models' },
      { page: 'new-run' },
      { page: 'new-run', from: 2 },
      { page: 'runs' },
      { page: 'runs', tag: 'sweep:a&b=c' },
      { page: 'run', id: 7 },
      { page: 'compare', ids: [1, 2] },
      { page: 'settings' },
    ];
    for (const r of routes) expect(parseRoute(formatRoute(r))).toEqual(r);
  });

  it('highlights Runs for a single run', () => {
    expect(navPage({ page: 'run', id: 3 })).toBe('runs');
    expect(navPage({ page: 'not-found', path: '/x' })).toBeUndefined();
  });
});
