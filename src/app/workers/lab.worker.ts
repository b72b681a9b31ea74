// The page's helper worker (see lab-api.ts): ingest with documents kept, chunking, BM25 scores, zip.
import * as Comlink from 'comlink';
import { createLabApi } from './lab-api.ts';

Comlink.expose(createLabApi());
