// Native open dialogs, the handlers main answers itself (everything else is relayed to the app core):
// 'dialog/open-folder' (an image folder to import), 'dialog/open-file' (a model, a CSV manifest, an IDX file) and
// 'dialog/available', which the renderer asks first (flops serve answers it with "not available"; app/contract.ts's
// ShellHandlers types all three for both transports).
// They register through the same IPC wrapper, so the same sender checks apply; the argument is validated here
// with zod, as the core's use cases validate theirs.
import { BrowserWindow, dialog, type IpcMainInvokeEvent, type OpenDialogOptions } from 'electron';
import { z } from 'zod';

import type {
  DialogAvailability,
  DialogResult,
  OpenDialogArgs,
  OpenFileDialogArgs,
  ShellHandlers,
} from '../app/contract.ts';
import type { IpcApi } from './ipc.ts';

/** One bad field, as app/use-cases/validate.ts reports them. */
class DialogArgsError extends Error {
  readonly code = 'ARGS_INVALID';
  constructor(
    handler: string,
    readonly issues: { field: string; message: string }[],
  ) {
    super(
      `invalid arguments for ${handler}:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`,
    );
    this.name = 'InvalidArgumentsError';
  }
}

const common = {
  title: z.string().max(200).optional(),
  defaultPath: z.string().max(4096).optional(),
};
const openFolderArgs = z.object(common).strict();
const openFileArgs = z
  .object({
    ...common,
    filters: z
      .array(
        z
          .object({
            name: z.string().min(1).max(100),
            extensions: z
              .array(z.string().regex(/^(\*|[a-z0-9]{1,12})$/i))
              .min(1)
              .max(20),
          })
          .strict(),
      )
      .max(10)
      .optional(),
  })
  .strict();

// The schemas accept exactly the contract's argument types (checked here, so the two cannot drift apart).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemasMatchContract: [
  Same<z.input<typeof openFolderArgs>, OpenDialogArgs>,
  Same<z.input<typeof openFileArgs>, OpenFileDialogArgs>,
] = [true, true];
void schemasMatchContract;

function parse<S extends z.ZodType>(handler: string, schema: S, args: unknown): z.output<S> {
  const parsed = schema.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  throw new DialogArgsError(
    handler,
    parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', message: i.message })),
  );
}

async function show(event: IpcMainInvokeEvent, options: OpenDialogOptions): Promise<DialogResult> {
  // Modal to the asking window; the sender check has already established it is one of ours.
  const win = BrowserWindow.fromWebContents(event.sender);
  const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return { available: true, path: result.canceled ? null : (result.filePaths[0] ?? null) };
}

export function openFolder(args: unknown, event: IpcMainInvokeEvent): Promise<DialogResult> {
  const a = parse('dialog/open-folder', openFolderArgs, args);
  return show(event, {
    title: a.title ?? 'Choose a folder',
    ...(a.defaultPath ? { defaultPath: a.defaultPath } : {}),
    properties: ['openDirectory', 'dontAddToRecent'],
  });
}

export function openFile(args: unknown, event: IpcMainInvokeEvent): Promise<DialogResult> {
  const a = parse('dialog/open-file', openFileArgs, args);
  return show(event, {
    title: a.title ?? 'Choose a file',
    ...(a.defaultPath ? { defaultPath: a.defaultPath } : {}),
    ...(a.filters ? { filters: a.filters } : {}),
    properties: ['openFile', 'dontAddToRecent'],
  });
}

export function dialogsAvailable(args: unknown): Promise<DialogAvailability> {
  parse('dialog/available', z.object({}).strict(), args);
  return Promise.resolve({ available: true });
}

/** The main-only handlers, typed by the contract's ShellHandlers (docs/packaging.md: they are not app/ use cases). */
const handlers = {
  'dialog/available': dialogsAvailable,
  'dialog/open-folder': openFolder,
  'dialog/open-file': openFile,
} satisfies {
  [K in keyof ShellHandlers]: (args: unknown, event: IpcMainInvokeEvent) => ReturnType<ShellHandlers[K]>;
};

export function setupDialogs(ipc: IpcApi): void {
  for (const [name, handler] of Object.entries(handlers)) ipc.handle(name, handler);
}
