import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The settings screen: plain Preact, built into dist/settings and served by the service at /settings. */
export default defineConfig({
  root,
  base: '/settings/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/settings', import.meta.url)),
    emptyOutDir: true,
    // The page's CSP allows only its own files: no inlined module preload helper, no data: scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/v1': 'http://localhost:3000' } },
});
