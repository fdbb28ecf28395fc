import { fileURLToPath } from 'node:url';

import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The renderer is one static bundle, served by Electron from disk and by `flops serve` over loopback.
export default defineConfig({
  root: 'renderer',
  base: './',
  // root is renderer/, so point the plugin at the repo's svelte.config.js explicitly.
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  build: { outDir: '../dist/renderer', emptyOutDir: true, target: 'es2022' },
});
