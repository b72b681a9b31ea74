// Entry of the Node extraction thread (see extract-thread-node.ts). Like tokenize-thread-node.mjs: register tsx here
// when the parent's loader did not carry over to the thread.
try {
  await import('./extract-thread-node.ts');
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  await import('./extract-thread-node.ts?tsx'); // a new specifier: the failed import stays cached
}
