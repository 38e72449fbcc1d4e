// The console's build: static files into dist/console/ (served by `coinradar serve` at /), every
// script and style a file of its own (the server's CSP allows no inline script), nothing fetched
// from elsewhere at run time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // No inline data: URLs for assets: the CSP's default-src 'self' would refuse them.
    assetsInlineLimit: 0,
    // The module-preload polyfill is only for browsers older than those the console supports.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
