// Hashes for deduplication, chunk ids and cache keys.

/** SHA-256 of a string's UTF-8 bytes, as hex (Web Crypto: same result in Node and the page). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** cyrb53: a fast synchronous 53-bit string hash, for ids and near-duplicate sketches (not for security). */
export function hash53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export function hash53Hex(str: string, seed = 0): string {
  return hash53(str, seed).toString(16).padStart(14, '0');
}

/** Text as compared for exact duplicates: Unicode NFC, whitespace runs collapsed, trimmed. */
export function normaliseForDedupe(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}
