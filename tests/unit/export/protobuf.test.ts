// The protobuf wire format as the spec's own examples give it (protobuf.dev/programming-guides/encoding), and the
// property the ONNX writer relies on: large byte fields are referenced, not copied.
import { describe, expect, it } from 'vitest';
import { ProtoMessage, concatChunks } from '../../../src/export/protobuf.ts';

const bytes = (m: ProtoMessage) => Array.from(concatChunks(m.toChunks()));

describe('protobuf writer', () => {
  it('encodes varints, including int64 negatives as ten bytes', () => {
    expect(bytes(new ProtoMessage().varint(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytes(new ProtoMessage().varint(2, 300))).toEqual([0x10, 0xac, 0x02]);
    expect(bytes(new ProtoMessage().varint(1, -1))).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytes(new ProtoMessage().varint(1, -2))).toEqual([0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(bytes(new ProtoMessage().varint(1, 2 ** 40))).toEqual([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    expect(() => new ProtoMessage().varint(1, 1.5)).toThrow(/integer/);
  });

  it('encodes strings, floats and embedded messages with their lengths', () => {
    expect(bytes(new ProtoMessage().string(2, 'testing'))).toEqual([0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    expect(bytes(new ProtoMessage().float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
    const inner = new ProtoMessage().varint(1, 150);
    expect(bytes(new ProtoMessage().message(3, inner))).toEqual([0x1a, 0x03, 0x08, 0x96, 0x01]);
  });

  it('keeps a large byte field as a view of the caller\'s buffer and counts its length', () => {
    const big = new Uint8Array(10_000).fill(7);
    const m = new ProtoMessage().varint(1, 1).bytes(9, big);
    const outer = new ProtoMessage().message(7, m);
    expect(outer.toChunks().some((c) => c === big)).toBe(true);
    // outer: tag + 2-byte length; inner: tag 1 + value, tag 9 + 2-byte length, then the 10,000 bytes
    expect(outer.byteLength).toBe(3 + 2 + 3 + 10_000);
    const flat = concatChunks(outer.toChunks());
    expect(flat.length).toBe(outer.byteLength);
    expect(Array.from(flat.subarray(0, 8))).toEqual([0x3a, 0x95, 0x4e, 0x08, 0x01, 0x4a, 0x90, 0x4e]);
  });
});
