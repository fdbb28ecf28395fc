// `flops serve` in-process on a real workspace: loopback only, the token on every request and on the WebSocket
// upgrade, the contract over HTTP, static files without traversal, and run events streamed over the socket.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { BridgeApi } from '../../../app/contract.ts';
import { startServer, type RunningServer } from '../../../app/server/index.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

let ws: TestWorkspace;
let server: RunningServer;
let base: string;
const renderer = mkdtempSync(join(tmpdir(), 'flops-renderer-'));

beforeAll(async () => {
  mkdirSync(join(renderer, 'assets'));
  writeFileSync(
    join(renderer, 'index.html'),
    '<!doctype html><script type="module" src="./assets/app.js"></script>',
  );
  writeFileSync(join(renderer, 'assets', 'app.js'), 'export const ok = 1;\n');
  ws = await testWorkspace();
  server = await startServer(ws.ctx, { rendererDir: renderer });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
  await ws.dispose();
  rmSync(renderer, { recursive: true, force: true });
});

function api(name: string, body: unknown, token: string | null = server.token): Promise<Response> {
  return fetch(`${base}/api/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** A raw GET (fetch normalises `..` out of URLs, which is exactly what a traversal test must not do). */
function rawGet(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('flops serve', () => {
  it('listens on 127.0.0.1 only, with a 32-byte token in the printed URL', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    await expect(startServer(ws.ctx, { host: '0.0.0.0' })).rejects.toThrow(/127\.0\.0\.1 only/);
  });

  it('refuses every request without the right token', async () => {
    expect((await api('system/info', {}, null)).status).toBe(401);
    expect((await api('system/info', {}, 'f'.repeat(64))).status).toBe(401);
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/assets/app.js`)).status).toBe(401);
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(200));
      socket.on('error', () => undefined);
    });
    expect(refused).toBe(401);
  });

  it('calls handlers over HTTP and reports errors with their code and bad fields', async () => {
    const info = await api('system/info', {});
    expect(info.status).toBe(200);
    const body = (await info.json()) as { result: { dataDir: string; providers: { preferred: string[] } } };
    expect(body.result.dataDir).toBe(ws.dataDir);
    expect(body.result.providers.preferred).toContain('cpu');

    const viaQuery = await fetch(`${base}/api/run/list?token=${server.token}`, {
      method: 'POST',
      body: '{}',
    });
    expect(((await viaQuery.json()) as { result: unknown[] }).result).toEqual([]);

    const unknown = await api('run/explode', {});
    expect(unknown.status).toBe(404);
    const proto = await api('constructor', {});
    expect(proto.status).toBe(404);

    const bad = await api('run/create', {
      spec: { modelId: -1, datasetVersionId: 'x', train: { lr: 'fast' } },
    });
    expect(bad.status).toBe(400);
    const error = ((await bad.json()) as { error: { code: string; issues: { field: string }[] } }).error;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues.map((i) => i.field)).toEqual(expect.arrayContaining(['modelId', 'datasetVersionId']));

    const get = await fetch(`${base}/api/run/list`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(get.status).toBe(405);
  });

  it('answers the shell dialog handlers with a typed "not available", never a 404', async () => {
    for (const name of ['dialog/available', 'dialog/open-folder', 'dialog/open-file']) {
      const res = await api(name, { title: 'Import images' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { result: { available: boolean; reason: string } };
      expect(body.result.available).toBe(false);
      expect(body.result.reason).toMatch(/type or paste the path/);
    }
    // Still behind the token like every other call.
    expect((await api('dialog/available', {}, null)).status).toBe(401);
    // bad input: arguments a dialog would refuse change nothing here, since no dialog is shown.
    for (const args of [{ filters: 'x', title: 7 }, { defaultPath: 'x'.repeat(5000) }]) {
      const res = await api('dialog/open-file', args);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { result: { available: boolean } }).result.available).toBe(false);
    }
  });

  it('settings/set over HTTP names every bad field with status 400, and settings/get reads what was saved', async () => {
    const bad = await api('settings/set', { threads: 1.5, providers: ['warp'] });
    expect(bad.status).toBe(400);
    const error = ((await bad.json()) as { error: { code: string; issues: { field: string }[] } }).error;
    expect(error.code).toBe('ARGS_INVALID');
    expect(error.issues.map((i) => i.field).sort()).toEqual(['providers.0', 'threads']);
    const saved = await api('settings/set', { threads: 2 });
    expect(saved.status).toBe(200);
    const got = (await (await api('settings/get', {})).json()) as {
      result: { stored: { threads: number }; effective: { threads: number } };
    };
    expect(got.result.stored.threads).toBe(2);
    expect(got.result.effective.threads).toBe(2);
    await api('settings/set', { threads: null });
  });

  it('serves the built renderer with content types, a session cookie, and no traversal', async () => {
    const page = await fetch(`${base}/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const cookie = page.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0] as string;

    const script = await fetch(`${base}/assets/app.js`, { headers: { cookie: pair } });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('export const ok');
    // The cookie opens static files only, never the API (a cross-site POST could carry it).
    const viaCookie = await fetch(`${base}/api/system/info`, {
      method: 'POST',
      headers: { cookie: pair },
      body: '{}',
    });
    expect(viaCookie.status).toBe(401);

    const auth = { authorization: `Bearer ${server.token}` };
    for (const path of [
      '/../../../../etc/passwd',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/assets/..%2f..%2f..%2fetc/hosts',
    ]) {
      const r = await rawGet(path, auth);
      expect(r.body).not.toMatch(/root:|localhost/);
      expect([200, 404]).toContain(r.status);
    }
    expect((await rawGet('/missing.js', auth)).status).toBe(404);
  });

  it('says how to build the UI when it is not built', async () => {
    const bare = await startServer(ws.ctx, { rendererDir: join(renderer, 'nope') });
    try {
      const page = await fetch(`${bare.url}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/npm run build/);
    } finally {
      await bare.close();
    }
  });

  it('streams run/progress and run/status over the WebSocket for a short run', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/events?token=${server.token}`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const messages: { event: string; payload: { runId: number; status?: string; step?: number } }[] = [];
    const done = new Promise<void>((resolve) => {
      socket.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as (typeof messages)[number];
        messages.push(m);
        if (m.event === 'run/status' && m.payload.status === 'completed') resolve();
      });
    });
    const created = await api('run/create', { spec: ws.spec({ maxSteps: 4 }) });
    expect(created.status).toBe(200);
    const run = ((await created.json()) as { result: { id: number } }).result;
    await done;
    socket.close();
    const progress = messages.filter((m) => m.event === 'run/progress' && m.payload.runId === run.id);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.payload.step).toBe(4);
    const statuses = messages.filter((m) => m.event === 'run/status').map((m) => m.payload.status);
    expect(statuses).toEqual(['queued', 'running', 'completed']);

    const metrics = await api('run/metrics', { runIds: [run.id], metrics: ['trainLoss'], x: 'queries' });
    const series = ((await metrics.json()) as { result: { series: { x: number[]; y: number[] }[] } }).result
      .series;
    expect(series[0]?.x).toEqual([32, 64, 96, 128]);
  });

  it('the renderer HTTP client (the same BridgeApi as the preload) works end to end', async () => {
    // Loaded by path at run time: the client is browser code, type-checked by the web program, not this one.
    const clientPath = '../../../renderer/src/lib/api-http.ts';
    const { createHttpApi } = (await import(clientPath)) as {
      createHttpApi(o: { baseUrl: string; token: string; WebSocket: unknown }): BridgeApi & { close(): void };
    };
    const api = createHttpApi({ baseUrl: base, token: server.token, WebSocket });
    try {
      const statuses: string[] = [];
      let runId = -1;
      const completed = new Promise<void>((resolve) => {
        api.on('run/status', (s) => {
          if (s.runId !== runId) return;
          statuses.push(s.status);
          if (s.status === 'completed') resolve();
        });
      });
      // Let the socket open before the run starts, as a page would have by then.
      await new Promise((r) => setTimeout(r, 200));
      const run = await api.invoke('run/create', { spec: ws.spec({ maxSteps: 2, seed: 5 }) });
      runId = run.id;
      await completed;
      const list = await api.invoke('run/list', { status: 'completed' });
      expect(list.map((r) => r.id)).toContain(run.id);
      await expect(api.invoke('run/get', { id: 12345 })).rejects.toMatchObject({
        code: 'RUN_NOT_FOUND',
        status: 404,
      });
      await expect(api.invoke('run/tag', { id: run.id, add: [''] })).rejects.toMatchObject({
        code: 'ARGS_INVALID',
        issues: [{ field: 'add.0' }],
      });
      expect(statuses).toContain('completed');
    } finally {
      api.close();
    }
  });
});
