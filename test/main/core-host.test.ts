// The core-host protocol: main starts the app core off its thread and relays invoke → reply/error and pushed
// events. The first suite runs the real core entry in a real worker thread on a real temp workspace (SQLite file
// included); the others drive the host and the core service through hand-held channels for the edge cases.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { ContextOptions, OwnedContext } from '../../app/context.ts';
import { AppEvents } from '../../app/context.ts';
import {
  CORE_ENTRY,
  CoreCallError,
  CoreHost,
  setupCore,
  utilityCoreChannel,
  workerCoreChannel,
  type CoreChannel,
} from '../../main/core-host.ts';
import type { CoreToHost, HostToCore } from '../../main/core-protocol.ts';
import { serveCore, type CorePort } from '../../main/core-service.ts';
import { forked, resetElectronMock } from '../mocks/electron.ts';

const roots: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flops-core-host-'));
  roots.push(dir);
  return dir;
}
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<CoreCallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CoreCallError);
  return error as CoreCallError;
}

describe('the real core in a worker thread', () => {
  let host: CoreHost;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDir();
    host = new CoreHost(workerCoreChannel(CORE_ENTRY), { dataDir });
    await host.ready;
  });

  afterAll(() => host.close());

  it('opens the workspace and announces the contract handlers', () => {
    expect(host.handlers).toContain('run/list');
    expect(host.handlers).toContain('dataset/import');
    expect(host.handlers).not.toContain('dialog/open-folder');
    expect(existsSync(join(dataDir, 'flops.db'))).toBe(true);
  });

  it('answers a call from a real use case on the SQLite workspace', async () => {
    await expect(host.invoke('run/list', {})).resolves.toEqual([]);
    const info = (await host.invoke('system/info', {})) as { dataDir: string; database: string };
    expect(info.dataDir).toBe(dataDir);
  });

  it("passes the argument to the use case's own validation and returns every bad field", async () => {
    const error = await rejection(host.invoke('run/list', { status: 'bogus', limit: -1 }));
    expect(error.code).toBe('ARGS_INVALID');
    expect(error.issues?.map((i) => i.field).sort()).toEqual(['limit', 'status']);
  });

  it('carries the stable code of a domain error', async () => {
    const error = await rejection(host.invoke('run/get', { id: 987_654 }));
    expect(error.code).toMatch(/NOT_FOUND/);
    expect(error.message).toMatch(/987654/);
  });

  it('refuses a name the core does not serve, prototype keys included', async () => {
    expect((await rejection(host.invoke('nope/nothing', {}))).code).toBe('UNKNOWN_HANDLER');
    expect((await rejection(host.invoke('constructor', {}))).code).toBe('UNKNOWN_HANDLER');
  });

  it('keeps answering while calls overlap', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => host.invoke('dataset/list', {})));
    expect(results).toEqual(Array.from({ length: 20 }, () => []));
  });
});

describe('shutdown', () => {
  it('closes the workspace, ends the thread and refuses later calls', async () => {
    const host = new CoreHost(workerCoreChannel(CORE_ENTRY), { dataDir: tempDir() });
    await host.ready;
    const exits: number[] = [];
    host.onExit((code) => exits.push(code));
    await host.close();
    expect(host.running).toBe(false);
    expect(exits).toHaveLength(1);
    expect((await rejection(host.invoke('run/list', {}))).code).toBe('CORE_UNAVAILABLE');
  });

  it('setupCore starts the core on the data folder (worker host) and waits until it is ready', async () => {
    const dataDir = tempDir();
    const core = await setupCore(dataDir, { ...process.env, FLOPS_CORE_HOST: 'worker' });
    try {
      expect(core.handlers.length).toBeGreaterThan(10);
      await expect(core.invoke('run/list', {})).resolves.toEqual([]);
    } finally {
      await core.close();
    }
  });

  it('reports a workspace that cannot be opened as a failed start', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const dir = tempDir();
    const file = join(dir, 'not-a-folder');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, 'x'));
    const host = new CoreHost(workerCoreChannel(CORE_ENTRY), { dataDir: file });
    const error = await rejection(host.ready);
    expect(error.message).toMatch(/not-a-folder|ENOTDIR|EEXIST/);
    await host.close();
  });
});

/** A channel driven by hand: what main posts is recorded, the test plays the core. */
function handChannel() {
  const posted: HostToCore[] = [];
  let onMessage: (m: unknown) => void = () => undefined;
  let onExit: (code: number) => void = () => undefined;
  let killed = false;
  const channel: CoreChannel = {
    postMessage: (m) => void posted.push(m),
    onMessage: (l) => void (onMessage = l),
    onExit: (l) => void (onExit = l),
    kill: () => {
      if (killed) return;
      killed = true;
      queueMicrotask(() => onExit(137));
    },
  };
  return {
    channel,
    posted,
    reply: (m: CoreToHost | unknown) => onMessage(m),
    exit: (code: number) => onExit(code),
    get killed() {
      return killed;
    },
  };
}

describe('CoreHost', () => {
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
  });

  it('sends init first and matches replies to calls by id', async () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    expect(c.posted[0]).toEqual({ type: 'init', init: { dataDir: '/data' } });
    c.reply({ type: 'ready', handlers: ['run/list', 'run/get'] });
    const a = host.invoke('run/list', {});
    const b = host.invoke('run/get', { id: 1 });
    await Promise.resolve();
    await Promise.resolve();
    const invokes = c.posted.filter((m) => m.type === 'invoke');
    expect(invokes.map((m) => m.type === 'invoke' && m.name)).toEqual(['run/list', 'run/get']);
    const [first, second] = invokes as Extract<HostToCore, { type: 'invoke' }>[];
    c.reply({
      type: 'error',
      id: second!.id,
      error: { name: 'RunNotFoundError', code: 'RUN_NOT_FOUND', message: 'no' },
    });
    c.reply({ type: 'reply', id: first!.id, value: ['x'] });
    await expect(a).resolves.toEqual(['x']);
    expect((await rejection(b)).code).toBe('RUN_NOT_FOUND');
  });

  it('fans pushed events out, and a throwing listener does not stop the others', () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    const seen: unknown[] = [];
    host.onPush(() => {
      throw new Error('listener bug');
    });
    const off = host.onPush((name, payload) => seen.push([name, payload]));
    c.reply({ type: 'push', name: 'run/status', payload: { runId: 1, status: 'running' } });
    off();
    c.reply({ type: 'push', name: 'run/status', payload: { runId: 1, status: 'paused' } });
    expect(seen).toEqual([['run/status', { runId: 1, status: 'running' }]]);
  });

  it('ignores malformed messages', async () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    c.reply({ type: 'reply' });
    c.reply('hello');
    c.reply({ type: 'ready', handlers: ['run/list'] });
    await expect(host.ready).resolves.toEqual(['run/list']);
  });

  it('rejects pending calls when the core dies, and every call after', async () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    c.reply({ type: 'ready', handlers: ['run/list'] });
    const pending = host.invoke('run/list', {});
    await Promise.resolve();
    c.exit(1);
    expect((await rejection(pending)).code).toBe('CORE_UNAVAILABLE');
    expect((await rejection(host.invoke('run/list', {}))).message).toMatch(/exited|not running/);
  });

  it('a fatal start rejects ready and ends the process', async () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    c.reply({
      type: 'fatal',
      error: { name: 'DbFromFutureError', code: 'DB_FROM_FUTURE', message: 'newer app' },
    });
    expect((await rejection(host.ready)).code).toBe('DB_FROM_FUTURE');
    expect(c.killed).toBe(true);
  });

  it('close asks for shutdown, ends the process once the core has closed, and kills it after the timeout', async () => {
    const c = handChannel();
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    c.reply({ type: 'ready', handlers: [] });
    const closing = host.close();
    expect(c.posted.at(-1)).toEqual({ type: 'shutdown' });
    c.reply({ type: 'closed' });
    await closing;
    expect(c.killed).toBe(true);

    const stuck = handChannel();
    const slow = new CoreHost(stuck.channel, { dataDir: '/data' }, { closeTimeoutMs: 20 });
    stuck.reply({ type: 'ready', handlers: [] });
    await slow.close();
    expect(stuck.killed).toBe(true);
  });

  it('an argument that cannot be cloned never leaves main', async () => {
    const c = handChannel();
    c.channel.postMessage = (m) => {
      if (m.type === 'invoke') structuredClone(m);
      c.posted.push(m);
    };
    const host = new CoreHost(c.channel, { dataDir: '/data' });
    c.reply({ type: 'ready', handlers: ['run/list'] });
    expect((await rejection(host.invoke('run/list', { f: () => 1 }))).code).toBe('ARGS_INVALID');
  });
});

describe('serveCore (the core side)', () => {
  function fakeContext(): OwnedContext & { closed: boolean } {
    const events = new AppEvents();
    const ctx = {
      events,
      closed: false,
      close: async () => {
        ctx.closed = true;
      },
    };
    return ctx as unknown as OwnedContext & { closed: boolean };
  }

  function port() {
    const out: CoreToHost[] = [];
    let deliver: (m: unknown) => void = () => undefined;
    const p: CorePort = { postMessage: (m) => void out.push(m), onMessage: (l) => void (deliver = l) };
    return { p, out, send: (m: unknown) => deliver(m) };
  }

  it('refuses calls before init, forwards app events as pushes, and closes the context on shutdown', async () => {
    const ctx = fakeContext();
    let options: ContextOptions | undefined;
    const { p, out, send } = port();
    const served = serveCore(p, {
      createContext: (o) => ((options = o), ctx),
      invoke: async (_ctx, name, args) => ({ name, args }),
      handlerNames: ['x/y'],
    });
    send({ type: 'invoke', id: 1, name: 'x/y', args: {} });
    expect(out.at(-1)).toMatchObject({ type: 'error', id: 1, error: { code: 'CORE_UNAVAILABLE' } });

    send({ type: 'init', init: { dataDir: '/d', startQueued: true } });
    expect(options).toEqual({ dataDir: '/d', startQueued: true });
    expect(out.at(-1)).toEqual({ type: 'ready', handlers: ['x/y'] });

    send({ type: 'invoke', id: 2, name: 'x/y', args: { a: 1 } });
    await new Promise((r) => setImmediate(r));
    expect(out.at(-1)).toEqual({ type: 'reply', id: 2, value: { name: 'x/y', args: { a: 1 } } });

    ctx.events.emit('run/status', { runId: 3, status: 'completed' });
    expect(out.at(-1)).toEqual({
      type: 'push',
      name: 'run/status',
      payload: { runId: 3, status: 'completed' },
    });

    send({ type: 'shutdown' });
    await served;
    expect(ctx.closed).toBe(true);
    expect(out.at(-1)).toEqual({ type: 'closed' });
    ctx.events.emit('run/status', { runId: 3, status: 'paused' });
    expect(out.at(-1)).toEqual({ type: 'closed' });
  });

  it('a reply that cannot be cloned becomes an error, not a dead core', async () => {
    const { p, out, send } = port();
    const strict: CorePort = {
      postMessage: (m) => p.postMessage(structuredClone(m)),
      onMessage: (l) => p.onMessage(l),
    };
    void serveCore(strict, {
      createContext: () => fakeContext(),
      invoke: async () => ({ fn: () => 1 }),
      handlerNames: [],
    });
    send({ type: 'init', init: { dataDir: '/d' } });
    send({ type: 'invoke', id: 9, name: 'a/b', args: {} });
    await new Promise((r) => setImmediate(r));
    expect(out.at(-1)).toMatchObject({ type: 'error', id: 9, error: { code: 'INTERNAL' } });
  });
});

describe('utilityCoreChannel', () => {
  beforeEach(() => resetElectronMock());

  it('forks the entry as a utility process and bridges its messages and exit', async () => {
    const channel = utilityCoreChannel('/app/dist-electron/main/core-entry.js', { env: { A: '1' } });
    const child = forked[0]!;
    expect(child.modulePath).toBe('/app/dist-electron/main/core-entry.js');
    expect(child.options).toMatchObject({ serviceName: 'FLOPS Workbench core', env: { A: '1' } });
    const host = new CoreHost(channel, { dataDir: '/d' });
    expect(child.posted[0]).toEqual({ type: 'init', init: { dataDir: '/d' } });
    child.emit('message', { type: 'ready', handlers: ['run/list'] });
    await expect(host.ready).resolves.toEqual(['run/list']);
    const closing = host.close();
    expect(child.posted.at(-1)).toEqual({ type: 'shutdown' });
    child.emit('message', { type: 'closed' });
    await closing;
    expect(child.killed).toBe(true);
  });
});
