// The Datasets page's sample grid: one page of thumbnails of the selected dataset version, filtered by split and
// class. Answers that arrive after the selection or the filter changed are dropped (the newest request wins).
import { errorMessage, type BridgeApi } from '../api.ts';
import type { DatasetSample } from '../types.ts';

export type SampleSplit = 'train' | 'val' | 'test';

export class SampleGridState {
  datasetId = $state<string | null>(null);
  split = $state<SampleSplit | null>(null);
  classIndex = $state<number | null>(null);
  offset = $state(0);
  readonly pageSize: number;
  samples = $state.raw<DatasetSample[]>([]);
  total = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);

  readonly #api: BridgeApi;
  #request = 0;

  constructor(api: BridgeApi, pageSize = 48) {
    this.#api = api;
    this.pageSize = Math.min(200, Math.max(1, pageSize));
  }

  get page(): number {
    return Math.floor(this.offset / this.pageSize) + 1;
  }
  get pages(): number {
    return Math.max(1, Math.ceil(this.total / this.pageSize));
  }
  get hasPrev(): boolean {
    return this.offset > 0;
  }
  get hasNext(): boolean {
    return this.offset + this.pageSize < this.total;
  }

  /** Shows another dataset version from its first page, with no filter. */
  async show(datasetId: string): Promise<void> {
    if (datasetId === this.datasetId) return;
    this.datasetId = datasetId;
    this.split = null;
    this.classIndex = null;
    this.offset = 0;
    await this.load();
  }

  async setClass(classIndex: number | null): Promise<void> {
    this.classIndex = classIndex;
    this.offset = 0;
    await this.load();
  }

  async setSplit(split: SampleSplit | null): Promise<void> {
    this.split = split;
    this.offset = 0;
    await this.load();
  }

  async next(): Promise<void> {
    if (!this.hasNext) return;
    this.offset += this.pageSize;
    await this.load();
  }

  async prev(): Promise<void> {
    if (!this.hasPrev) return;
    this.offset = Math.max(0, this.offset - this.pageSize);
    await this.load();
  }

  async load(): Promise<void> {
    const id = this.datasetId;
    if (id === null) return;
    const request = ++this.#request;
    this.loading = true;
    try {
      const page = await this.#api.invoke('dataset/samples', {
        id,
        offset: this.offset,
        limit: this.pageSize,
        ...(this.split !== null ? { split: this.split } : {}),
        ...(this.classIndex !== null ? { classIndex: this.classIndex } : {}),
      });
      if (request !== this.#request) return;
      this.samples = page.samples;
      this.total = page.total;
      this.error = null;
    } catch (error) {
      if (request !== this.#request) return;
      this.samples = [];
      this.total = 0;
      this.error = errorMessage(error);
    } finally {
      if (request === this.#request) this.loading = false;
    }
  }
}
