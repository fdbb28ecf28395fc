import { readFileSync } from 'node:fs';

import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';

import { buildMlp } from '../../../engine/models/mlp.ts';
import { createSession, ParamFeeds } from '../../../engine/onnx/session.ts';
import { FlatParams } from '../../../engine/params.ts';
import { maxAbsDiff } from './reference.ts';

const dir = new URL('../../fixtures/onnx/', import.meta.url);
const committedBytes = new Uint8Array(readFileSync(new URL('tiny-mlp.onnx', dir)));
const golden = JSON.parse(readFileSync(new URL('tiny-mlp.golden.json', dir), 'utf8')) as {
  model: { inDim: number; hidden: number[]; numClasses: number; seed: number };
  rows: number;
  x: number[];
  y: number[];
  theta: number[];
  loss: number[];
  logits: number[];
};

async function run(
  bytes: Uint8Array,
  theta: Float32Array,
): Promise<{ loss: Float32Array; logits: Float32Array }> {
  const model = buildMlp(golden.model);
  const { session } = await createSession(bytes, { providers: ['cpu'], trainable: model.trainable });
  const out = await session.run({
    ...new ParamFeeds(new FlatParams(model.trainable)).feeds(theta),
    x: new ort.Tensor('float32', Float32Array.from(golden.x), [golden.rows, golden.model.inDim]),
    y: new ort.Tensor('int64', BigInt64Array.from(golden.y, BigInt), [golden.rows]),
  });
  await session.release();
  return { loss: out.loss!.data as Float32Array, logits: out.logits!.data as Float32Array };
}

it('rebuilding the tiny MLP with the same seed gives the committed bytes and initial parameters', () => {
  const model = buildMlp(golden.model);
  expect(Buffer.from(model.bytes).equals(Buffer.from(committedBytes))).toBe(true);
  expect(Array.from(model.initParams().data)).toEqual(golden.theta);
  // And it is deterministic within a process too.
  expect(Buffer.from(buildMlp(golden.model).bytes).equals(Buffer.from(model.bytes))).toBe(true);
});

it('the committed model reproduces the golden outputs, and so does the rebuilt one', async () => {
  const theta = Float32Array.from(golden.theta);
  for (const bytes of [committedBytes, buildMlp(golden.model).bytes]) {
    const out = await run(bytes, theta);
    expect(maxAbsDiff(out.loss, golden.loss)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(out.logits, golden.logits)).toBeLessThanOrEqual(1e-6);
  }
});

it('the seed changes the initial parameters, and the bytes when layers are frozen into the graph', () => {
  const other = { ...golden.model, seed: golden.model.seed + 1 };
  expect(Array.from(buildMlp(other).initParams().data)).not.toEqual(golden.theta);
  // Trainable tensors are inputs, so the plain graph does not depend on the seed…
  expect(Buffer.from(buildMlp(other).bytes).equals(Buffer.from(committedBytes))).toBe(true);
  // …while frozen layers are initializers drawn from it.
  const a = buildMlp({ ...golden.model, frozenLayers: 1 }).bytes;
  const b = buildMlp({ ...other, frozenLayers: 1 }).bytes;
  expect(Buffer.from(a).equals(Buffer.from(buildMlp({ ...golden.model, frozenLayers: 1 }).bytes))).toBe(true);
  expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
});
