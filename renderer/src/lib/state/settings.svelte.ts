// The Settings page's execution form: the provider order, ORT threads per run and runs at once on the device, each
// either automatic or a chosen value. Checked here as the user types (the same limits the server applies), saved
// with `settings/set`, whose per-field issues are shown beside the fields too. Saving applies to runs started next.
import {
  errorIssues,
  errorMessage,
  type BridgeApi,
  type FieldIssueData,
  type HandlerArgs,
  type HandlerResult,
} from '../api.ts';
import type { Num } from '../types.ts';

export type SettingsView = HandlerResult<'settings/get'>;
export type SettingsPatch = HandlerArgs<'settings/set'>;
type ProviderName = NonNullable<SettingsView['stored']['providers']>[number];
export type SettingsField = 'providers' | 'threads' | 'concurrency';

export class SettingsState {
  view = $state.raw<SettingsView | null>(null);
  loadError = $state<string | null>(null);

  providersAuto = $state(true);
  /** The chosen order (enabled providers only). */
  providers = $state.raw<ProviderName[]>([]);
  threadsAuto = $state(true);
  threads = $state<Num>(null);
  concurrencyAuto = $state(true);
  concurrency = $state<Num>(null);

  saving = $state(false);
  saveError = $state<string | null>(null);
  /** Issues the server named on the last save. */
  serverIssues = $state.raw<FieldIssueData[]>([]);
  saved = $state(false);

  readonly #api: BridgeApi;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  async load(): Promise<void> {
    try {
      this.#reset(await this.#api.invoke('settings/get', {}));
      this.loadError = null;
    } catch (error) {
      this.loadError = errorMessage(error);
    }
  }

  /** The form's fields from what the workspace stores (automatic where nothing is stored). */
  #reset(view: SettingsView): void {
    this.view = view;
    const s = view.stored;
    this.providersAuto = s.providers === null;
    this.providers = s.providers ?? (view.automatic.providers as ProviderName[]);
    this.threadsAuto = s.threads === null;
    this.threads = s.threads ?? view.automatic.cores;
    const device = this.device;
    const stored = device ? s.concurrency?.[device as ProviderName] : undefined;
    this.concurrencyAuto = stored === undefined;
    this.concurrency = stored ?? 1;
  }

  /** Providers this build offers, chosen ones first in their order, then the rest. */
  get choices(): { name: ProviderName; enabled: boolean; bundled: boolean }[] {
    const selectable = (this.view?.available ?? []).filter((p) => p.selectable);
    const bundled = (name: string): boolean => selectable.find((p) => p.name === name)?.bundled ?? false;
    const chosen = this.providers.filter((p) => selectable.some((s) => s.name === p));
    const rest = selectable.map((p) => p.name as ProviderName).filter((p) => !chosen.includes(p));
    return [
      ...chosen.map((name) => ({ name, enabled: true, bundled: bundled(name) })),
      ...rest.map((name) => ({ name, enabled: false, bundled: bundled(name) })),
    ];
  }

  /** The device runs will be charged to: the first provider of the order in effect after saving. */
  get device(): string | null {
    if (!this.view) return null;
    return (this.providersAuto ? this.view.automatic.providers[0] : this.providers[0]) ?? null;
  }

  toggle(name: ProviderName, enabled: boolean): void {
    this.providers = enabled
      ? [...this.providers.filter((p) => p !== name), name]
      : this.providers.filter((p) => p !== name);
    this.saved = false;
  }

  /** Moves a chosen provider one place earlier (-1) or later (+1). */
  move(name: ProviderName, by: -1 | 1): void {
    const list = [...this.providers];
    const i = list.indexOf(name);
    const j = i + by;
    if (i < 0 || j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j] as ProviderName, list[i] as ProviderName];
    this.providers = list;
    this.saved = false;
  }

  /** Every problem of the fields as they stand, checked as the server checks them. */
  get localIssues(): FieldIssueData[] {
    const issues: FieldIssueData[] = [];
    const limits = this.view?.limits ?? { threads: 256, concurrency: 16 };
    if (!this.providersAuto && this.providers.length === 0) {
      issues.push({
        field: 'providers',
        message: 'Choose at least one provider, or use the automatic order.',
      });
    }
    const whole = (field: SettingsField, v: Num, max: number, what: string): void => {
      if (v === null || !Number.isInteger(v) || v < 1 || v > max) {
        issues.push({ field, message: `${what} must be a whole number from 1 to ${max}.` });
      }
    };
    if (!this.threadsAuto) whole('threads', this.threads, limits.threads, 'Threads');
    if (!this.concurrencyAuto) whole('concurrency', this.concurrency, limits.concurrency, 'Runs at once');
    return issues;
  }

  /** Messages for one field: local ones, then what the server said on the last save. */
  issuesFor(field: SettingsField): string[] {
    const top = (f: string): string => f.split('.')[0] ?? f;
    return [
      ...this.localIssues.filter((i) => i.field === field).map((i) => i.message),
      ...this.serverIssues.filter((i) => top(i.field) === field).map((i) => i.message),
    ];
  }

  get valid(): boolean {
    return this.localIssues.length === 0;
  }

  /** Every field as the form stands, null for automatic. */
  get patch(): SettingsPatch {
    const device = this.device as ProviderName | null;
    const others = { ...(this.view?.stored.concurrency ?? {}) };
    if (device) delete others[device];
    const concurrency =
      this.concurrencyAuto || !device ? others : { ...others, [device]: this.concurrency as number };
    return {
      providers: this.providersAuto ? null : [...this.providers],
      threads: this.threadsAuto ? null : this.threads,
      concurrency: Object.keys(concurrency).length > 0 ? concurrency : null,
    };
  }

  /**
   * The fields that differ from what is stored: only those are sent, so a field the user did not touch keeps a
   * startup flag's override for this session (`overrides`).
   */
  get changes(): SettingsPatch {
    const s = this.view?.stored;
    if (!s) return {};
    const p = this.patch;
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    return {
      ...(same(p.providers, s.providers) ? {} : { providers: p.providers }),
      ...(same(p.threads, s.threads) ? {} : { threads: p.threads }),
      ...(same(p.concurrency, s.concurrency) ? {} : { concurrency: p.concurrency }),
    };
  }

  get dirty(): boolean {
    return Object.keys(this.changes).length > 0;
  }

  async save(): Promise<boolean> {
    this.saved = false;
    if (!this.valid) return false;
    this.saving = true;
    try {
      this.#reset(await this.#api.invoke('settings/set', this.changes));
      this.serverIssues = [];
      this.saveError = null;
      this.saved = true;
      return true;
    } catch (error) {
      this.serverIssues = errorIssues(error);
      this.saveError = this.serverIssues.length > 0 ? null : errorMessage(error);
      return false;
    } finally {
      this.saving = false;
    }
  }
}
