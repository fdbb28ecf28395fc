// System information (execution providers, threads, data directory) for the Settings page and the status bar.
import { errorMessage, type BridgeApi } from '../api.ts';
import type { SystemInfo } from '../types.ts';

export class SystemState {
  info = $state.raw<SystemInfo | null>(null);
  error = $state<string | null>(null);
  bundling = $state(false);
  bundledMessage = $state<string | null>(null);

  readonly #api: BridgeApi;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  async refresh(): Promise<void> {
    try {
      this.info = await this.#api.invoke('system/info', {});
      this.error = null;
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Registers the bundled demo model and dataset (idempotent). */
  async registerBundled(): Promise<boolean> {
    this.bundling = true;
    try {
      const { model, dataset } = await this.#api.invoke('system/bundled', {});
      this.bundledMessage = `Registered model “${model.name}” and dataset “${dataset.name}”.`;
      return true;
    } catch (error) {
      this.bundledMessage = errorMessage(error);
      return false;
    } finally {
      this.bundling = false;
    }
  }
}
