#!/usr/bin/env node
// The `flops` launcher. In a checkout the CLI is TypeScript run through tsx; a packaged build ships compiled
// JavaScript under dist-electron/. Keep this file tiny: everything else lives in app/cli/main.ts.
import { existsSync } from 'node:fs';

const source = new URL('../app/cli/main.ts', import.meta.url);
const built = new URL('../dist-electron/app/cli/main.js', import.meta.url);

let entry = built;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
