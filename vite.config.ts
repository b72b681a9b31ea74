import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// One config for the app (vite / vite build) and the unit tests (vitest).
// base './' makes the static build work from any sub-path of any static server.
export default defineConfig({
  base: './',
  plugins: [svelte()],
  worker: { format: 'es' },
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
