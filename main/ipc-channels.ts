// Channel names and the reply envelope shared by main/ipc.ts and the preload. No imports: the preload is bundled
// into one CommonJS file for the sandbox, and this must not drag anything else in.
import type { BridgeErrorData } from '../app/contract.ts';

export const API_CHANNEL_PREFIX = 'api:';
export const EVENT_CHANNEL_PREFIX = 'event:';
/** `domain/verb`, lower case, dashes inside words: the contract's naming rule for handlers and events. */
export const HANDLER_NAME = /^[a-z]+\/[a-z]+(?:-[a-z]+)*$/;

/** What every `api:*` handler resolves to; a thrown Error would lose its code and issues on the way. */
export type IpcResult = { ok: true; value: unknown } | { ok: false; error: BridgeErrorData };
