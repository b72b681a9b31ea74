// The ONNX messages we write (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) and a
// small graph builder. Field numbers are onnx.proto's (github.com/onnx/onnx/blob/main/onnx/onnx.proto); only the
// fields a cross-encoder needs are here.

import { ProtoMessage } from './protobuf.ts';

/** TensorProto.DataType values we use. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

/** A node attribute: give exactly one of f (float), i (int), ints, s (string). */
export type Attr = { f: number } | { i: number } | { ints: number[] } | { s: string };

/** A dimension: a fixed size, or a name for a dynamic axis ('batch_size', 'sequence_length'). */
export type Dim = number | string;

/** Where a tensor's bytes go: inside model.onnx (raw_data), or in the external data file at an offset. */
export interface External {
  location: string;
  offset: number;
  length: number;
}

const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function attribute(name: string, a: Attr): ProtoMessage {
  const m = new ProtoMessage().string(1, name);
  if ('f' in a) m.float(2, a.f).varint(20, ATTR_FLOAT);
  else if ('i' in a) m.varint(3, a.i).varint(20, ATTR_INT);
  else if ('s' in a) m.string(4, a.s).varint(20, ATTR_STRING);
  else m.varints(8, a.ints).varint(20, ATTR_INTS);
  return m;
}

function tensorType(elemType: DataTypeId, dims: readonly Dim[]): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoMessage().varint(1, d) : new ProtoMessage().string(2, d));
  const tensor = new ProtoMessage().varint(1, elemType).message(2, shape);
  return new ProtoMessage().message(1, tensor);
}

function valueInfo(name: string, elemType: DataTypeId, dims: readonly Dim[]): ProtoMessage {
  return new ProtoMessage().string(1, name).message(2, tensorType(elemType, dims));
}

/** TensorProto with its bytes inline (raw_data, little-endian) or in an external file. */
function tensor(name: string, dataType: DataTypeId, dims: readonly number[], bytes: Uint8Array | External): ProtoMessage {
  const m = new ProtoMessage().varints(1, dims).varint(2, dataType).string(8, name);
  if (bytes instanceof Uint8Array) return m.bytes(9, bytes);
  for (const [k, v] of [['location', bytes.location], ['offset', String(bytes.offset)], ['length', String(bytes.length)]]) {
    m.message(13, new ProtoMessage().string(1, k).string(2, v));
  }
  return m.varint(14, 1); // data_location = EXTERNAL
}

/** Little-endian bytes of a typed array without copying (every platform that runs WebGPU is little-endian). */
export function bytesOf(a: Float32Array | BigInt64Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface InitializerData {
  dataType: DataTypeId;
  dims: number[];
  bytes: Uint8Array;
}

/**
 * Collects nodes and initializers in order; names its outputs ('name:0' style unless given) so graph code reads as
 * a sequence of calls: `const y = g.op('MatMul', [x, w])`.
 */
export class GraphBuilder {
  readonly nodes: ProtoMessage[] = [];
  readonly initializers = new Map<string, InitializerData>();
  readonly inputs: ProtoMessage[] = [];
  readonly outputs: ProtoMessage[] = [];
  private counter = 0;

  input(name: string, elemType: DataTypeId, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: DataTypeId, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** A float initializer (weights). The array is referenced, not copied. */
  floats(name: string, dims: number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`ONNX initializer ${name}: ${data.length} values for shape [${dims}]`);
    return this.init(name, { dataType: DataType.FLOAT, dims, bytes: bytesOf(data) });
  }

  /** An int64 initializer (axes, shapes, indices); dims [] is a scalar. */
  int64s(name: string, dims: number[], values: number[]): string {
    return this.init(name, { dataType: DataType.INT64, dims, bytes: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))) });
  }

  private init(name: string, d: InitializerData): string {
    if (this.initializers.has(name)) throw new Error(`ONNX initializer ${name} defined twice`);
    this.initializers.set(name, d);
    return name;
  }

  /** Adds a node; returns its output name(s). `name` names the node and its output. */
  op(opType: string, inputs: string[], o: { name?: string; attrs?: Record<string, Attr>; output?: string } = {}): string {
    const name = o.name ?? `${opType}_${this.counter++}`;
    const out = o.output ?? `${name}:0`;
    const m = new ProtoMessage();
    for (const i of inputs) m.string(1, i);
    m.string(2, out).string(3, name).string(4, opType);
    for (const [k, a] of Object.entries(o.attrs ?? {})) m.message(5, attribute(k, a));
    this.nodes.push(m);
    return out;
  }

  /**
   * The ModelProto. Initializers whose bytes exceed `externalAbove` (when given) go to `external.location` at
   * increasing offsets; `external.chunks` are that file's contents in order.
   */
  model(o: { name: string; opset: number; irVersion: number; producer: string; producerVersion: string; docString?: string; metadata?: Record<string, string>; externalAbove?: number; externalLocation?: string }): { model: ProtoMessage; external: Uint8Array[] } {
    const graph = new ProtoMessage();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, o.name);
    const external: Uint8Array[] = [];
    let offset = 0;
    for (const [name, d] of this.initializers) {
      if (o.externalAbove !== undefined && d.bytes.byteLength > o.externalAbove) {
        const location = o.externalLocation ?? 'model.onnx_data';
        graph.message(5, tensor(name, d.dataType, d.dims, { location, offset, length: d.bytes.byteLength }));
        external.push(d.bytes);
        offset += d.bytes.byteLength;
      } else {
        graph.message(5, tensor(name, d.dataType, d.dims, d.bytes));
      }
    }
    for (const i of this.inputs) graph.message(11, i);
    for (const out of this.outputs) graph.message(12, out);
    const model = new ProtoMessage()
      .varint(1, o.irVersion)
      .string(2, o.producer)
      .string(3, o.producerVersion);
    if (o.docString) model.string(6, o.docString);
    model.message(7, graph);
    model.message(8, new ProtoMessage().string(1, '').varint(2, o.opset));
    for (const [k, v] of Object.entries(o.metadata ?? {})) model.message(14, new ProtoMessage().string(1, k).string(2, v));
    return { model, external };
  }
}
