// The data worker: ingest, chunk, query generation, filters and mining off the page's main thread.
// jieba-wasm's web build initialises its wasm here on first use (see src/data/jieba.ts).
import * as Comlink from 'comlink';
import { createDataApi } from './api.ts';

Comlink.expose(createDataApi());
