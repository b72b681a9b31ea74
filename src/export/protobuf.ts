// Protocol Buffers wire format, write side only, for the handful of ONNX messages we emit (src/export/onnx-proto.ts).
//
// Why not protobufjs (already in node_modules through onnxruntime-web): its Writer assembles the whole message into
// one buffer at finish(), so a 1.1 GB bge-reranker-base export would hold the weights twice in a browser tab, and
// we would still have to declare onnx.proto's schema. Here a message is a list of chunks: small fields are packed
// into byte arrays, large byte fields (tensor raw_data) are kept as views of the weights, never copied, and an
// embedded message only adds its tag and length in front of the child's chunks. The file is the chunk list; the
// caller writes it out piece by piece or joins it once.

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

/** Byte fields at least this long are kept by reference instead of copied into the small-field buffer. */
const BY_REFERENCE = 4096;

export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private flushed = 0;
  private pending: number[] = [];

  /** Encoded size in bytes. */
  get byteLength(): number {
    return this.flushed + this.pending.length;
  }

  /** The encoded message as chunks (concatenate them, or write them one after another). */
  toChunks(): Uint8Array[] {
    this.flush();
    return this.chunks.slice();
  }

  /** int32 / int64 / uint64 / enum / bool field (negative numbers take ten bytes, as int64 does on the wire). */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  /** A repeated integer field, one tag per value (unpacked: every ONNX reader accepts it). */
  varints(field: number, values: Iterable<number | bigint>): this {
    for (const v of values) this.varint(field, v);
    return this;
  }

  /** float field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    for (const x of b) this.pending.push(x);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** bytes field; large values are referenced, not copied (the caller must not change them before writing). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(value.byteLength);
    if (value.byteLength >= BY_REFERENCE) {
      this.flush();
      this.chunks.push(value);
      this.flushed += value.byteLength;
    } else {
      for (const x of value) this.pending.push(x);
    }
    return this;
  }

  /** Embedded message field: tag, length, then the child's chunks. */
  message(field: number, child: ProtoMessage): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(child.byteLength);
    this.flush();
    for (const c of child.toChunks()) {
      this.chunks.push(c);
      this.flushed += c.byteLength;
    }
    return this;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw new Error(`protobuf: varint must be an integer, got ${value}`);
      if (value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
        let v = value;
        while (v >= 0x80) {
          this.pending.push((v % 0x80) | 0x80);
          v = Math.floor(v / 0x80);
        }
        this.pending.push(v);
        return;
      }
      value = BigInt(value);
    }
    // Negative (or huge) values: the two's-complement 64-bit pattern, as protobuf encodes int64.
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.pending.push(Number(v));
  }

  private flush(): void {
    if (!this.pending.length) return;
    this.chunks.push(Uint8Array.from(this.pending));
    this.flushed += this.pending.length;
    this.pending = [];
  }
}

/** Joins chunks into one buffer (the page's zip wants one Uint8Array per file). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const n = chunks.reduce((s, c) => s + c.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
