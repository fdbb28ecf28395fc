// The contract's promises: every handler is a `domain/verb` name bound to a use case, every result is plain JSON
// (checked by the type system for all handlers at once), unknown names are refused, and errors cross a transport
// with their code and every bad field.
import { describe, expect, expectTypeOf, it } from 'vitest';

import type { Events, HandlerName, HandlerResult, Handlers } from '../../app/contract.ts';
import type { AppContext } from '../../app/context.ts';
import { HANDLER_NAMES, invokeHandler, toBridgeError } from '../../app/use-cases/index.ts';
import { InvalidArgumentsError } from '../../app/use-cases/validate.ts';
import { resolveRunSpec } from '../../app/runs/spec.ts';

/**
 * True when T holds something JSON cannot carry (typed arrays, Maps, Dates, functions, bigints). Depth-limited:
 * JsonValue is recursive, and eight levels cover every result shape.
 */
type NotJson<T, D extends unknown[] = []> = D['length'] extends 8
  ? false
  : T extends ArrayBufferView | Map<unknown, unknown> | Set<unknown> | Date | bigint | symbol
    ? true
    : T extends (...args: never[]) => unknown
      ? true
      : T extends readonly (infer U)[]
        ? NotJson<U, [...D, 0]>
        : T extends object
          ? true extends { [K in keyof T]-?: NotJson<Exclude<T[K], undefined>, [...D, 0]> }[keyof T]
            ? true
            : false
          : false;

type BadResults = { [K in HandlerName]: NotJson<HandlerResult<K>> extends false ? never : K }[HandlerName];
type BadEvents = { [E in keyof Events]: NotJson<Events[E]> extends false ? never : E }[keyof Events];

describe('the contract', () => {
  it('has only JSON results and events (type-level, every handler)', () => {
    expectTypeOf<BadResults>().toEqualTypeOf<never>();
    expectTypeOf<BadEvents>().toEqualTypeOf<never>();
    expectTypeOf<NotJson<{ a: Float32Array }>>().toEqualTypeOf<true>();
    expectTypeOf<NotJson<{ a: { b: number[] }[] }>>().toEqualTypeOf<false>();
  });

  it('binds the context: a handler takes one argument object', () => {
    expectTypeOf<Parameters<Handlers['run/create']>['length']>().toEqualTypeOf<1>();
    expectTypeOf<Parameters<Handlers['run/get']>[0]>().toEqualTypeOf<{ id: number; events?: number }>();
  });

  it('names every handler domain/verb', () => {
    expect(HANDLER_NAMES.length).toBeGreaterThan(20);
    for (const name of HANDLER_NAMES) expect(name).toMatch(/^[a-z]+\/[a-z-]+$/);
  });

  it('refuses unknown and prototype names before touching the context', async () => {
    const ctx = {} as AppContext;
    await expect(invokeHandler(ctx, 'run/explode', {})).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER' });
    await expect(invokeHandler(ctx, '__proto__', {})).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER' });
    await expect(invokeHandler(ctx, 'toString', {})).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER' });
  });

  it('validates arguments at the boundary, naming every bad field', async () => {
    const ctx = {} as AppContext;
    const error = await invokeHandler(ctx, 'run/metrics', { runIds: [], x: 'time', maxPoints: 1 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentsError);
    const data = toBridgeError(error);
    expect(data.code).toBe('ARGS_INVALID');
    expect(data.issues?.map((i) => i.field).sort()).toEqual(['maxPoints', 'runIds', 'x']);
  });

  it('carries every bad field of an invalid run config across the boundary', () => {
    let error: unknown;
    try {
      resolveRunSpec({ modelId: 0, datasetVersionId: 'nope', train: { batchSize: -1, estimator: 'magic' } });
    } catch (e) {
      error = e;
    }
    const data = toBridgeError(error);
    expect(data.code).toBe('CONFIG_INVALID');
    expect(data.issues?.map((i) => i.field).sort()).toEqual([
      'datasetVersionId',
      'modelId',
      'train.batchSize',
      'train.estimator',
    ]);
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
  });
});
