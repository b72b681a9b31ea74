// Body of the Node extraction thread: .docx and .pdf text extraction (mammoth, pdf.js) away from the main thread,
// under a heap limit set by extract-pool-node.ts, so a file that exhausts memory ends this thread, not the process.

import { parentPort } from 'node:worker_threads';
import { docxText, ExtractSkip, pdfText, type DocxLimits } from './extract.ts';

export interface ExtractRequest {
  id: number;
  format: 'docx' | 'pdf';
  bytes: Uint8Array;
  docx?: DocxLimits;
}

export type ExtractReply = { id: number; ok: true; text: string } | { id: number; ok: false; skip: boolean; message: string };

const port = parentPort;
if (!port) throw new Error('extract-thread-node.ts runs as a worker thread only.');
port.on('message', async (req: ExtractRequest) => {
  let reply: ExtractReply;
  try {
    const text = req.format === 'docx' ? await docxText(req.bytes, req.docx) : await pdfText(req.bytes);
    reply = { id: req.id, ok: true, text };
  } catch (e) {
    reply = { id: req.id, ok: false, skip: e instanceof ExtractSkip, message: (e as Error).message };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true });
