// Picks the transport: the Electron preload's `window.api`, or the loopback server's HTTP/WebSocket client when the
// renderer runs in a plain browser against `flops serve`. Both implement the contract's BridgeApi, and nothing past
// this file knows which one it got.
import type {
  BridgeApi,
  EventName,
  Events,
  FieldIssueData,
  HandlerArgs,
  HandlerName,
  HandlerResult,
} from '../../../app/contract.ts';
import { createHttpApi } from './api-http.ts';

export type { BridgeApi, EventName, Events, FieldIssueData, HandlerArgs, HandlerName, HandlerResult };

export function pickApi(win: Window = window): BridgeApi {
  return win.api ?? createHttpApi();
}

/** The message to show for a failed call. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** The bad fields a failed call names (BridgeErrorData.issues), else []. */
export function errorIssues(error: unknown): FieldIssueData[] {
  const issues = (error as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter(
    (i): i is FieldIssueData =>
      typeof i === 'object' && i !== null && typeof (i as FieldIssueData).field === 'string',
  );
}

/** The bad fields a failed call names, else its message as one '(root)' issue (shown at the top of a form). */
export function issuesOrRoot(error: unknown): FieldIssueData[] {
  const issues = errorIssues(error);
  return issues.length > 0 ? issues : [{ field: '(root)', message: errorMessage(error) }];
}
