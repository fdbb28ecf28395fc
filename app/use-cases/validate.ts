// Argument validation at the contract boundary. Every handler's argument comes from outside the process (IPC, HTTP,
// CLI flags), so each use case parses it with zod first and reports every bad field at once, never only the first.
import type { z } from 'zod';

import { ConfigError, FlopsError } from '../../engine/errors.ts';

/** One bad field of a handler's argument (dotted path) and what is wrong with it. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** A handler's argument did not validate; `issues` names every bad field. */
export class InvalidArgumentsError extends FlopsError {
  constructor(
    readonly handler: string,
    readonly issues: FieldIssue[],
  ) {
    super(
      'ARGS_INVALID',
      `invalid arguments for ${handler}:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`,
    );
  }
}

/** An id names nothing in the store. */
export class NotFoundError extends FlopsError {
  constructor(what: string, id: string | number) {
    super('NOT_FOUND', `${what} ${id} does not exist`);
  }
}

/** Parses `args` with `schema`, or throws InvalidArgumentsError listing every issue. */
export function parseArgs<S extends z.ZodType>(handler: string, schema: S, args: unknown): z.output<S> {
  const parsed = schema.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  throw new InvalidArgumentsError(
    handler,
    parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', message: i.message })),
  );
}

/** The field issues an error carries (InvalidArgumentsError, InvalidConfigError, ConfigError), else []. */
export function fieldIssues(error: unknown): FieldIssue[] {
  if (error instanceof InvalidArgumentsError) return error.issues;
  const issues = (error as { issues?: unknown }).issues;
  if (Array.isArray(issues)) {
    return issues.map((i: unknown) =>
      i instanceof ConfigError
        ? { field: i.field, message: i.message.slice(i.field.length + 2) }
        : {
            field: String((i as { field?: unknown }).field ?? '(root)'),
            message: String((i as { message?: unknown }).message ?? ''),
          },
    );
  }
  if (error instanceof ConfigError) {
    return [{ field: error.field, message: error.message.slice(error.field.length + 2) }];
  }
  return [];
}
