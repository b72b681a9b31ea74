import { defineConfig } from 'vite';

// A single-file build of the command line for machines without node_modules (the lent GPU machine):
// everything is bundled, the WGSL shaders inlined, except Dawn, which is imported from WEBGPU_MODULE at run time.
export default defineConfig({
  build: {
    ssr: 'src/cli/main.ts',
    outDir: '.devbuild',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: { output: { format: 'es', entryFileNames: 'rerank-lab.mjs', inlineDynamicImports: true } },
  },
  ssr: { noExternal: true, target: 'node' },
});
