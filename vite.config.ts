import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// One config for the app (vite / vite build) and the unit tests (vitest).
// base './' makes the static build work from any sub-path of any static server.
export default defineConfig({
  base: './',
  // the end-to-end test of a cold `npm start` points this at an empty folder
  cacheDir: process.env.RERANK_LAB_VITE_CACHE ?? 'node_modules/.vite',
  plugins: [svelte()],
  worker: { format: 'es' },
  // `npm start` is a dev server: Vite pre-bundles dependencies on first use and then reloads the page, which lost the
  // first folder drop (mammoth, pdfjs and the workers' imports were only discovered then). Crawl the workers too and
  // pre-bundle these at start. jieba-wasm stays out: its web build fetches its .wasm beside itself, which a
  // pre-bundled copy would not find; as plain ESM without dependencies it needs no pre-bundling.
  optimizeDeps: {
    entries: ['index.html', 'src/workers/**/*.worker.ts'],
    include: ['mammoth', 'pdfjs-dist', 'comlink', 'fflate', '@huggingface/tokenizers', 'htmlparser2', 'papaparse', 'idb-keyval'],
    exclude: ['jieba-wasm'],
  },
  build: { target: 'es2022', outDir: 'dist', assetsInlineLimit: 0 },
  server: { fs: { allow: ['.'] } },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    // Dawn on SwiftShader is slow; kernel tests size themselves small but still need room.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // CI has 2 cores; each file creates its own Dawn device.
    maxWorkers: 2,
    env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' },
    reporters: ['default'],
  },
});
