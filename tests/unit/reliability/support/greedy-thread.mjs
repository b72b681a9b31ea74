// A misbehaving extraction thread for the ingest tests: answers like extract-thread-node.ts, except that bytes
// starting with 'B' make it allocate until its heap limit kills it (what mammoth did with 100 MB of XML).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (req) => {
  if (req.bytes[0] === 0x42) {
    const hog = [];
    for (;;) hog.push(new Array(1e6).fill(hog.length));
  }
  parentPort.postMessage({ id: req.id, ok: true, text: `extracted ${req.bytes.length} bytes` });
});
parentPort.postMessage({ ready: true });
