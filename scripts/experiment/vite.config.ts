import { defineConfig } from 'vite';

// The experiment's driver as one file for the lent GPU machine (no node_modules there), beside the command line's
// bundle (vite.cli.config.ts) in .devbuild/: `node .devbuild/experiment.mjs run …`. Dawn comes from WEBGPU_MODULE.
export default defineConfig({
  build: {
    ssr: 'scripts/experiment/run.ts',
    outDir: '.devbuild',
    emptyOutDir: false,
    target: 'node20',
    minify: false,
    rollupOptions: { output: { format: 'es', entryFileNames: 'experiment.mjs', codeSplitting: false } },
  },
  ssr: { noExternal: true, target: 'node' },
});
