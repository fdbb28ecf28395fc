import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { FormatError, ModelError } from '../../../engine/errors.ts';
import { buildMlp } from '../../../engine/models/mlp.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import {
  availableProviders,
  createSession,
  DEFAULT_PROVIDERS,
  ParamFeeds,
  runInto,
  type ProviderName,
} from '../../../engine/onnx/session.ts';
import { FlatParams } from '../../../engine/params.ts';

const model = buildMlp({ inDim: 4, hidden: [3], numClasses: 2, seed: 1 });
const tmp = mkdtempSync(join(tmpdir(), 'flops-session-'));

function reluModel(): Uint8Array {
  const g = new GraphBuilder('relu');
  g.node('Relu', [g.input('x', 'float32', ['n'])], ['y']);
  g.output('y', 'float32', ['n']);
  return g.toBytes();
}

describe('createSession: execution providers', () => {
  it('skips providers absent from this build, falls back past failures, and reports the one that loaded', async () => {
    const available = availableProviders();
    const { session, provider, tried } = await createSession(model.bytes, {
      providers: ['dml', 'coreml', 'cuda', 'cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    console.log(`[session.test] provider=${provider} tried=${JSON.stringify(tried)}`);
    expect(tried.at(-1)).toEqual({ name: provider });
    for (const t of tried.slice(0, -1)) expect(t.error).toEqual(expect.any(String));
    for (const t of tried) {
      if (!available.has(t.name)) expect(t.error).toMatch(/not available in this onnxruntime-node build/);
    }
    if (process.platform === 'linux') {
      // linux/x64 has no DirectML or CoreML; CUDA is listed but needs libraries an offline install lacks.
      expect(tried.slice(0, 2).map((t) => t.name)).toEqual(['dml', 'coreml']);
    }
    expect(session.inputNames).toEqual(['x', 'y', 'w0', 'b0', 'w1', 'b1']);
    await session.release();
  });

  it('the default preference list ends on a provider that works here', async () => {
    const { session, provider, tried } = await createSession(model.bytes);
    expect(tried.map((t) => t.name)).toEqual(DEFAULT_PROVIDERS.slice(0, tried.length));
    expect(tried.at(-1)).toEqual({ name: provider });
    await session.release();
  });

  it('loads from a file path', async () => {
    const path = join(tmp, 'mlp.onnx');
    writeFileSync(path, model.bytes);
    const { session, provider } = await createSession(path, {
      providers: ['cpu'],
      trainable: model.trainable,
    });
    expect(provider).toBe('cpu');
    expect(session.outputNames).toEqual(['logits', 'loss']);
    await session.release();
  });

  it('throws ModelError listing every attempt when no provider can load the model', async () => {
    const absent = (['dml', 'coreml', 'cuda', 'webgpu'] as ProviderName[]).filter(
      (p) => !availableProviders().has(p),
    );
    if (absent.length === 0) {
      console.warn('[session.test] SKIPPING: every provider is available on this platform');
      return;
    }
    await expect(createSession(model.bytes, { providers: absent })).rejects.toThrow(
      /no execution provider could load the model \(.*not available in this onnxruntime-node build/,
    );
  });
});

describe('createSession: bad calls', () => {
  it('a model without a declared trainable input → ModelError naming the missing inputs', async () => {
    const call = createSession(model.bytes, {
      providers: ['cpu'],
      trainable: ['w0', 'w9', { name: 'b9', shape: [2] }],
      label: 'mlp.onnx',
    });
    await expect(call).rejects.toBeInstanceOf(ModelError);
    await expect(call).rejects.toThrow(
      /^mlp\.onnx: model lacks trainable inputs w9, b9 \(its inputs are x, y, w0, b0, w1, b1\)$/,
    );
  });

  it('a trainable input with the wrong shape or type → ModelError', async () => {
    await expect(
      createSession(model.bytes, { providers: ['cpu'], trainable: [{ name: 'w0', shape: [4, 3] }] }),
    ).rejects.toThrow(/trainable inputs do not match: w0 has shape \[3, 4\], expected \[4, 3\]/);
    await expect(
      createSession(model.bytes, { providers: ['cpu'], trainable: [{ name: 'y', shape: [1, 2] }] }),
    ).rejects.toThrow(/y is int64, not float32; y has shape \[rows\], expected \[1, 2\]/);
  });

  it.each([
    ['garbage', Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 256)],
    ['a PNG header', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])],
    ['empty bytes', new Uint8Array(0)],
  ])('%s → FormatError', async (_, bytes) => {
    const call = createSession(bytes, { providers: ['cpu'], label: 'upload.onnx' });
    await expect(call).rejects.toBeInstanceOf(FormatError);
    await expect(call).rejects.toThrow(/^upload\.onnx: not an ONNX model/);
  });

  it('a path to a non-ONNX file or to nothing → FormatError naming the file', async () => {
    const path = join(tmp, 'notes.onnx');
    writeFileSync(path, 'these are not the weights you are looking for');
    await expect(createSession(path, { providers: ['cpu'] })).rejects.toThrow(
      new RegExp(`^${path}: not an ONNX model`),
    );
    await expect(createSession(join(tmp, 'missing.onnx'))).rejects.toThrow(
      /missing\.onnx: cannot read model \(ENOENT\)/,
    );
  });

  it('a well-formed model ONNX Runtime refuses (Gelu at opset 17) → ModelError, without trying other providers', async () => {
    const g = new GraphBuilder('gelu', 17);
    g.node('Gelu', [g.input('x', 'float32', [2])], ['y']);
    g.output('y', 'float32', [2]);
    await expect(createSession(g.toBytes(), { providers: ['cpu'] })).rejects.toThrow(
      /ONNX Runtime refuses the model: .*No Op registered for Gelu/,
    );
  });
});

describe('feeding and running', () => {
  it('ParamFeeds: views of theta (zero copy), cached per vector, length-checked', () => {
    const params = new FlatParams(model.trainable);
    params.data.forEach((_, i) => (params.data[i] = i));
    const pf = new ParamFeeds(params);
    const feeds = pf.feeds(params.data);
    for (const spec of params.specs) {
      const data = feeds[spec.name]!.data as Float32Array;
      expect(data.buffer).toBe(params.data.buffer);
      expect(data.byteOffset).toBe(params.offset(spec.name) * 4);
      expect(feeds[spec.name]!.dims).toEqual(spec.shape);
    }
    expect(pf.feeds(params.data)).toBe(feeds);
    expect(pf.feeds(params.data.slice())).not.toBe(feeds);
    expect(() => pf.feeds(new Float32Array(3))).toThrow(/theta has 3 values, the layout has 23/);
  });

  it('runInto writes into the preallocated output buffer and refuses unknown output names', async () => {
    const { session } = await createSession(reluModel(), { providers: ['cpu'] });
    const out = new Float32Array(3);
    await runInto(
      session,
      { x: new ort.Tensor('float32', Float32Array.from([-1, 2, -3]), [3]) },
      {
        y: new ort.Tensor('float32', out, [3]),
      },
    );
    expect(Array.from(out)).toEqual([0, 2, 0]);
    await expect(
      runInto(
        session,
        { x: new ort.Tensor('float32', new Float32Array(1), [1]) },
        {
          z: new ort.Tensor('float32', new Float32Array(1), [1]),
        },
      ),
    ).rejects.toThrow(/runInto: model has no outputs z \(it has y\)/);
    await session.release();
  });
});
