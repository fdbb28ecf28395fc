// Native file dialogs, when the transport has them. The Electron preload's transport answers them in main
// (main/dialogs.ts); `flops serve` answers `dialog/available` with a typed "not available", so in a browser the forms
// keep their path text field and show no Browse button. Asked once per app; a failed ask counts as unavailable and
// is not an error (an older server, a test bridge without the handler).
import type { BridgeApi, HandlerArgs } from '../api.ts';

export type DialogKind = 'folder' | 'file';

export class Dialogs {
  /** null until the transport has answered. */
  available = $state<boolean | null>(null);
  /** Why there are none (shown as a hint beside the path field). */
  reason = $state<string | null>(null);

  readonly #api: BridgeApi;
  #detecting: Promise<void> | undefined;

  constructor(api: BridgeApi) {
    this.#api = api;
  }

  detect(): Promise<void> {
    this.#detecting ??= this.#api.invoke('dialog/available', {}).then(
      (answer) => {
        this.available = answer.available;
        this.reason = answer.available ? null : answer.reason;
      },
      () => {
        this.available = false;
        this.reason = null;
      },
    );
    return this.#detecting;
  }

  /** The chosen path, or null when the user cancelled or no dialog can be shown. */
  async open(kind: DialogKind, args: HandlerArgs<'dialog/open-file'> = {}): Promise<string | null> {
    if (!this.available) return null;
    const answer =
      kind === 'folder'
        ? await this.#api.invoke('dialog/open-folder', { title: args.title, defaultPath: args.defaultPath })
        : await this.#api.invoke('dialog/open-file', args);
    if (!answer.available) {
      this.available = false;
      this.reason = answer.reason;
      return null;
    }
    return answer.path;
  }
}
