import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import base from '../../playwright.config.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

// check_export.py's page check (tests/python/page_model.spec.ts): the e2e setup (Debian's Chromium, SwiftShader,
// `vite preview` of the built app), pointed at this folder. Not part of `npm test`: it needs a model folder from the
// Python environment (MODEL_DIR).
export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: 'page_*.spec.ts',
  outputDir: '../../test-results/python',
  // The server runs in the repository root (a config's webServer otherwise runs in the config's folder).
  webServer: base.webServer && !Array.isArray(base.webServer) ? { ...base.webServer, cwd: root, timeout: 180_000 } : base.webServer,
});
