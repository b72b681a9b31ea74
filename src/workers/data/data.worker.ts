// The data worker: ingest, chunking and its preview, query generation, filters, mining, BM25 scores of the mined
// examples and the export zip, off the page's main thread.
// jieba-wasm's web build initialises its wasm here on first use (see src/data/jieba.ts).
import * as Comlink from 'comlink';
import { createDataApi } from './api.ts';

Comlink.expose(createDataApi());
