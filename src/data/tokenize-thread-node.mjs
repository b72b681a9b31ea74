// Entry of a Node tokenising thread. A thread inherits the parent's command-line loaders (the `tsx` command) but not
// loaders registered in-process (bin/rerank-lab.mjs, Vitest), so register tsx here when TypeScript does not load.
try {
  await import('./tokenize-thread-node.ts');
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  await import('./tokenize-thread-node.ts?tsx'); // a new specifier: the failed import stays cached
}
