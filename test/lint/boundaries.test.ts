// The import-boundary rules are only worth having if they fire: lint snippets as if they lived in each folder.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function restrictedMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-globals')
    .map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    [
      'engine/x.ts',
      "import { app } from 'electron';\nexport const a = app;\n",
      /Only main\/ may import electron/,
    ],
    ['engine/x.ts', "import Db from 'better-sqlite3';\nexport const a = Db;\n", /Only app\/ touches SQLite/],
    ['engine/x.ts', "import { f } from '../app/f.ts';\nexport const a = f;\n", /depends on nothing above it/],
    ['engine/x.ts', 'export const a = document.title;\n', /engine\/ has no DOM/],
    [
      'app/x.ts',
      "import { app } from 'electron';\nexport const a = app;\n",
      /Only main\/ may import electron/,
    ],
    ['app/x.ts', "import { w } from '../main/w.ts';\nexport const a = w;\n", /never depends on main/],
    [
      'renderer/src/x.ts',
      "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n",
      /no node:\* modules/,
    ],
    [
      'renderer/src/x.ts',
      "import { ipcRenderer } from 'electron';\nexport const a = ipcRenderer;\n",
      /Only main\/ may import electron/,
    ],
    [
      'renderer/src/x.ts',
      "import { f } from '../../app/runs.ts';\nexport const a = f;\n",
      /only the contract/,
    ],
    [
      'renderer/src/x.ts',
      "import { f } from '../../engine/rng.ts';\nexport const a = f;\n",
      /only the contract types/,
    ],
  ])('%s: %s is refused', async (file, code, message) => {
    const messages = await restrictedMessages(file, code);
    expect(messages.some((m) => message.test(m))).toBe(true);
  });

  it.each([
    ['engine/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n"],
    ['app/x.ts', "import Db from 'better-sqlite3';\nexport const a = Db;\n"],
    ['main/x.ts', "import { app } from 'electron';\nexport const a = app;\n"],
    [
      'renderer/src/x.ts',
      "import type { Handlers } from '../../app/contract.ts';\nexport type A = Handlers;\n",
    ],
  ])('%s: allowed import passes', async (file, code) => {
    expect(await restrictedMessages(file, code)).toEqual([]);
  });
});
