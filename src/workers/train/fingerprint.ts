// The identity of a model folder: SHA-256 of each file the worker loads (config, tokenizer, weights), combined in
// name order. Two folders with the same architecture but other weights (a base model and its fine-tune) differ; the
// same folder dropped twice is the same model. Web Crypto hashes off the main thread, ~1 GB/s in Chrome.

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

export async function modelFingerprint(files: Readonly<Record<string, Uint8Array>> | ReadonlyMap<string, Uint8Array>): Promise<string> {
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const [name, bytes] of entries) parts.push(`${name}:${bytes.byteLength}:${hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))}`);
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(parts.join('\n')))).slice(0, 24);
}
