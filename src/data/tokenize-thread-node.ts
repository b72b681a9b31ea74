// Body of a Node tokenising thread (worker_threads): loads jieba-wasm once, then answers TokenizeRequests.
// Started through tokenize-thread-node.mjs, which makes sure TypeScript can be loaded in the thread.

import { parentPort } from 'node:worker_threads';
import { loadJieba } from './jieba.ts';
import { tokenizeRequestWith, type TokenizeRequest } from './tokenize-batch.ts';

const port = parentPort;
if (!port) throw new Error('tokenize-thread-node.ts runs as a worker thread only.');
const handle = tokenizeRequestWith(await loadJieba());
port.on('message', (req: TokenizeRequest) => {
  const reply = handle(req);
  port.postMessage(reply, reply.ok ? [reply.tokens.ids.buffer as ArrayBuffer, reply.tokens.ends.buffer as ArrayBuffer] : []);
});
port.postMessage({ ready: true });
