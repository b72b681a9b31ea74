// CRC-32 (the zlib / PNG / zip polynomial, so Python's zlib.crc32 gives the same number) over bytes. Checkpoint files
// record it so flipped bytes are caught before a resume trusts them. Node's zlib.crc32 (native, ~1.7 GB/s) where
// the runtime has it; elsewhere (the page's worker) a slicing-by-8 table version (~0.3–0.6 GB/s in V8).

const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k][n] = (t[0][t[k - 1][n] & 0xff] ^ (t[k - 1][n] >>> 8)) >>> 0;
  return t;
})();

type Crc = (bytes: Uint8Array, crc?: number) => number;
const nativeCrc32: Crc | undefined = (() => {
  const p = typeof process === 'undefined' ? undefined : (process as unknown as { getBuiltinModule?: (id: string) => { crc32?: Crc } | undefined });
  return p?.getBuiltinModule?.('zlib')?.crc32;
})();

/** CRC-32 of `bytes`, continuing from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(bytes, crc) >>> 0 : crc32Js(bytes, crc);
}

/** The portable version (exported for its test against the native one). */
export function crc32Js(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^ t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export const crc32Hex = (bytes: Uint8Array): string => crc32(bytes).toString(16).padStart(8, '0');
