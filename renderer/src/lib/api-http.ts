// The contract over the loopback server (`flops serve`), for the renderer running in a plain browser. It implements
// the same BridgeApi as the Electron preload, so components cannot tell which one they got. Calls are
// POST /api/<domain>/<verb> with a JSON body; events arrive on one shared WebSocket (/api/events) that reconnects
// with backoff. The token comes from the URL the server printed (…/?token=…) and goes in every request.
import type {
  BridgeApi,
  BridgeErrorData,
  EventName,
  Events,
  HandlerArgs,
  HandlerName,
  HandlerResult,
} from '../../../app/contract.ts';

/** A failed call: the server's error with its stable code and, for bad arguments, every bad field. */
export class ApiError extends Error implements BridgeErrorData {
  readonly code: string;
  readonly issues?: BridgeErrorData['issues'];
  readonly status: number;

  constructor(data: BridgeErrorData, status: number) {
    super(data.message);
    this.name = data.name;
    this.code = data.code;
    this.status = status;
    if (data.issues) this.issues = data.issues;
  }
}

export interface HttpApiOptions {
  /** Server origin; default the page's own (the server serves the renderer). */
  baseUrl?: string;
  /** Default: the `token` query parameter of the page's URL. */
  token?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

type Listener = (payload: unknown) => void;

export function tokenFromLocation(href: string): string | undefined {
  return new URL(href).searchParams.get('token') ?? undefined;
}

export function createHttpApi(options: HttpApiOptions = {}): BridgeApi & { close(): void } {
  const base = options.baseUrl ?? globalThis.location.origin;
  const token = options.token ?? tokenFromLocation(globalThis.location.href);
  if (!token) throw new Error('no API token: open the URL `flops serve` printed (it ends in ?token=...)');
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  const listeners = new Map<EventName, Set<Listener>>();
  let socket: WebSocket | undefined;
  let retryMs = 500;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const connect = (): void => {
    if (closed || socket) return;
    const url = new URL('/api/events', base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: the token travels as a query parameter.
    url.searchParams.set('token', token);
    const ws = new Socket(url.href);
    socket = ws;
    ws.onopen = () => {
      retryMs = 500;
    };
    ws.onmessage = (message: MessageEvent) => {
      let data: { event?: EventName; payload?: unknown };
      try {
        data = JSON.parse(String(message.data)) as typeof data;
      } catch {
        return;
      }
      if (!data.event) return;
      for (const listener of listeners.get(data.event) ?? []) listener(data.payload);
    };
    ws.onclose = () => {
      socket = undefined;
      if (closed || listeners.size === 0) return;
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
  };

  return {
    async invoke<K extends HandlerName>(name: K, args: HandlerArgs<K>): Promise<HandlerResult<K>> {
      const response = await doFetch(new URL(`/api/${name}`, base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(args ?? {}),
      });
      const body = (await response.json().catch(() => ({}))) as {
        result?: HandlerResult<K>;
        error?: BridgeErrorData;
      };
      if (!response.ok || body.error) {
        throw new ApiError(
          body.error ?? { name: 'Error', code: 'HTTP', message: `${name}: HTTP ${response.status}` },
          response.status,
        );
      }
      return body.result as HandlerResult<K>;
    },

    on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
      const set = listeners.get(name) ?? new Set<Listener>();
      listeners.set(name, set);
      const wrapped = listener as Listener;
      set.add(wrapped);
      connect();
      return () => {
        set.delete(wrapped);
        if (set.size === 0) listeners.delete(name);
      };
    },

    close(): void {
      closed = true;
      clearTimeout(retryTimer);
      socket?.close();
      socket = undefined;
    },
  };
}
