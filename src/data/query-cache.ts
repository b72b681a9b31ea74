// Cache of generated queries keyed by (chunk hash, prompt, model), so a rerun or a page reload never pays for the
// same query twice. Pluggable: MemoryCache here, FileCache (Node, query-cache-node.ts), IndexedDbCache (page,
// query-cache-idb.ts).

import { sha256Hex } from './hash.ts';

export interface QueryCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export async function queryCacheKey(chunkText: string, prompt: string, model: string): Promise<string> {
  return sha256Hex(JSON.stringify([await sha256Hex(chunkText), prompt, model]));
}

export class MemoryCache implements QueryCache {
  readonly map = new Map<string, string>();
  async get(key: string) {
    return this.map.get(key);
  }
  async set(key: string, value: string) {
    this.map.set(key, value);
  }
}
