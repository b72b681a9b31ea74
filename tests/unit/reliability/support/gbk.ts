// GBK bytes of a text, for tests (Node has no GBK encoder): the two-byte table built by decoding every pair once.
let table: Map<string, [number, number]> | undefined;

export function gbk(text: string): Uint8Array {
  if (!table) {
    table = new Map();
    const dec = new TextDecoder('gbk');
    for (let a = 0x81; a <= 0xfe; a++) {
      for (let b = 0x40; b <= 0xfe; b++) {
        if (b === 0x7f) continue;
        const ch = dec.decode(Uint8Array.of(a, b));
        if (ch.length === 1 && ch !== '\ufffd' && !table.has(ch)) table.set(ch, [a, b]);
      }
    }
  }
  const out: number[] = [];
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) out.push(ch.charCodeAt(0));
    else {
      const p = table.get(ch);
      if (!p) throw new Error(`no GBK code for ${ch}`);
      out.push(...p);
    }
  }
  return Uint8Array.from(out);
}
