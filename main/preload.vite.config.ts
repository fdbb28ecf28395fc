// Builds the sandboxed preload: main/preload.ts and what it imports, bundled into ONE CommonJS file,
// dist-electron/preload.cjs. A sandboxed preload can neither be an ES module nor require files of its own; only
// 'electron' stays an external require. Run with `npm run build:preload` (part of `npm run build:main`).
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: 'dist-electron',
    emptyOutDir: false,
    target: 'es2022',
    minify: false,
    sourcemap: false,
    reportCompressedSize: false,
    lib: {
      entry: 'main/preload.ts',
      formats: ['cjs'],
      fileName: () => 'preload.cjs',
    },
    rollupOptions: { external: ['electron'] },
  },
});
