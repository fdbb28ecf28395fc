// The default execution-provider preference. The engine tries whatever list it is given and reports what runs;
// this decides what to ask for when the user has not chosen. CUDA is asked for only when its provider libraries
// are installed next to onnxruntime-node (they come from a separate NuGet download, never offline), and WebGPU
// only on request: it is experimental in ORT 1.30 and its probe prints driver noise on machines without a GPU.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

import * as ort from 'onnxruntime-node';

import type { ProviderName } from '../engine/onnx/session.ts';

function cudaLibrariesInstalled(): boolean {
  try {
    const root = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const lib = join(
      root,
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      'libonnxruntime_providers_cuda.so',
    );
    // In a packaged app the binaries live outside the archive (asarUnpack).
    return existsSync(lib) || existsSync(lib.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`));
  } catch {
    return false;
  }
}

export function defaultProviders(options: { webgpu?: boolean } = {}): ProviderName[] {
  const backends = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const preferred: ProviderName[] = [];
  if (backends.has('cuda') && cudaLibrariesInstalled()) preferred.push('cuda');
  if (backends.get('dml')) preferred.push('dml');
  if (backends.get('coreml')) preferred.push('coreml');
  if (options.webgpu && backends.has('webgpu')) preferred.push('webgpu');
  preferred.push('cpu');
  return preferred;
}
