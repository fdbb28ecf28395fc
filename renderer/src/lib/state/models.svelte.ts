// The Models page's source of truth: registered models, and the trainable parameter count of each mode (loaded
// per model on demand: counting needs the weights, so it is not free).
import { errorMessage, type BridgeApi } from '../api.ts';
import type { Model, ModelModes } from '../types.ts';

export class ModelsState {
  list = $state.raw<Model[]>([]);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Mode counts by model id; replaced whole when one arrives. */
  modes = $state.raw<Record<number, ModelModes>>({});
  modesError = $state.raw<Record<number, string>>({});
  importing = $state(false);
  importError = $state<string | null>(null);

  readonly #api: BridgeApi;
  /** Model ids whose counts are being fetched (bookkeeping, not state). */
  #pending: number[] = [];

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.list = await this.#api.invoke('model/list', {});
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    } finally {
      this.loading = false;
    }
  }

  /** Loads the per-mode parameter counts of a model once. */
  async loadModes(id: number, numClasses?: number): Promise<void> {
    if (this.modes[id] || this.#pending.includes(id)) return;
    this.#pending = [...this.#pending, id];
    try {
      const modes = await this.#api.invoke('model/modes', { id, ...(numClasses ? { numClasses } : {}) });
      this.modes = { ...this.modes, [id]: modes };
    } catch (error) {
      this.modesError = { ...this.modesError, [id]: errorMessage(error) };
    } finally {
      this.#pending = this.#pending.filter((x) => x !== id);
    }
  }

  async import(path: string, name?: string): Promise<Model | undefined> {
    if (!path.trim()) {
      this.importError = 'Enter the path of a Hugging Face ViT folder or an .onnx file.';
      return undefined;
    }
    this.importing = true;
    this.importError = null;
    try {
      const model = await this.#api.invoke('model/import', {
        path: path.trim(),
        ...(name?.trim() ? { name: name.trim() } : {}),
      });
      await this.refresh();
      return model;
    } catch (error) {
      this.importError = errorMessage(error);
      return undefined;
    } finally {
      this.importing = false;
    }
  }
}

type ModeKind = ModelModes['modes'][number]['mode']['kind'];

export const MODE_KIND_LABELS: Record<ModeKind, string> = {
  head: 'Head only',
  bitfit: 'BitFit (biases + LayerNorm)',
  lora: 'LoRA',
  vpt: 'Visual prompt tuning',
  'last-k': 'Last k blocks',
  full: 'Full',
  onnx: 'ONNX initializers',
};

/** 'lora' rank 4 on q,v → "LoRA r4 (q,v)". */
export function modeLabel(mode: ModelModes['modes'][number]['mode']): string {
  switch (mode.kind) {
    case 'head':
      return 'Head only';
    case 'bitfit':
      return 'BitFit';
    case 'lora':
      return `LoRA r${mode.rank ?? 4}${mode.targets ? ` (${mode.targets.join(',')})` : ''}`;
    case 'vpt':
      return `VPT ${mode.prompts ?? 4} prompts`;
    case 'last-k':
      return `Last ${mode.k ?? 1} block${(mode.k ?? 1) === 1 ? '' : 's'}`;
    case 'full':
      return 'Full';
    case 'onnx':
      return mode.trainable ? `${mode.trainable.length} initializers` : 'Output layer';
  }
}
