// The model's parameters on the GPU, with their gradients and AdamW moments.
//
// Storage is flat: all parameters live in one buffer (an "arena"; more than one only where a model outgrows the
// adapter's largest binding), and the gradients and both moments in buffers of the same layout, so the optimizer
// and the gradient norm are a few dispatches over whole buffers instead of a few per tensor. Each parameter is a
// "slot", a view (byte offset, shape) into those buffers, aligned so it can be bound on its own: the encoder
// addresses slots exactly as if each had its own buffer. Slots with weight decay come first in each arena, so a
// decay group is one contiguous range.
//
// Each layer's query/key/value weights and biases share one slot each ([Wq; Wk; Wv] is [3H, H] row-major, exactly
// the three [H, H] matrices one after the other), so a single matmul produces Q, K and V. Every HF name maps to
// (slot, element offset, shape), so uploads, downloads and saving keep the original names.

import { type Tensor, fmtBytes } from '../../gpu/buffers.ts';
import { GpuLimitError } from '../../gpu/errors.ts';
import type { GpuRuntime } from '../../gpu/runtime.ts';
import { fill } from '../../kernels/elementwise.ts';
import type { ModelConfig } from '../config.ts';
import { type LayerNames, type ModelParamNames, hasWeightDecay, modelParamNames, paramSpecs } from '../params.ts';

export interface Slot {
  /** A readable name: the HF name, or e.g. 'layer.3.qkv.weight' for packed slots. */
  label: string;
  shape: number[];
  numel: number;
  decay: boolean;
  /** Which arena, and the slot's first element in it. */
  arena: number;
  start: number;
  p: Tensor;
  /** Created by allocGrads(). */
  g?: Tensor;
  /** Created by allocOptimizer(). */
  m?: Tensor;
  v?: Tensor;
}

export interface SlotRef {
  slot: Slot;
  /** Element offset of this name's values in the slot's buffers (the arena: the same for p, g, m and v). */
  offset: number;
  shape: number[];
  numel: number;
}

/** One flat buffer of each kind: parameters, gradients, moments. Elements [0, decayEnd) take weight decay. */
export interface Arena {
  elements: number;
  decayEnd: number;
  p: Tensor;
  g?: Tensor;
  m?: Tensor;
  v?: Tensor;
}

/** The slots one encoder layer reads. */
export interface LayerSlots {
  qkvW: Slot; qkvB: Slot; // [3H, H], [3H]
  aoW: Slot; aoB: Slot; // [H, H], [H]
  ln1W: Slot; ln1B: Slot;
  fiW: Slot; fiB: Slot; // [I, H], [I]
  foW: Slot; foB: Slot; // [H, I], [H]
  ln2W: Slot; ln2B: Slot;
}

interface SlotSpec {
  label: string;
  shape: number[];
  decay: boolean;
  /** HF names stored in this slot, each with its element offset in the slot and its shape. */
  names: { name: string; offset: number; shape: number[] }[];
}

export class GpuParams {
  readonly slots: Slot[] = [];
  readonly arenas: Arena[] = [];
  readonly byName = new Map<string, SlotRef>();
  readonly names: ModelParamNames;
  emb!: { word: Slot; position: Slot; tokenType: Slot; lnW: Slot; lnB: Slot };
  layers: LayerSlots[] = [];
  head!: { denseW: Slot; denseB: Slot; outW: Slot; outB: Slot };

  private constructor(
    private readonly rt: GpuRuntime,
    readonly cfg: ModelConfig,
  ) {
    this.names = modelParamNames(cfg);
  }

  /** Uploads `params` (HF name → f32 values, every name of paramSpecs(cfg)). */
  static async upload(rt: GpuRuntime, cfg: ModelConfig, params: ReadonlyMap<string, Float32Array>): Promise<GpuParams> {
    const gp = new GpuParams(rt, cfg);
    try {
      await gp.allocate();
      gp.write(params);
    } catch (e) {
      gp.release(); // an arena that did not fit: give back the ones allocated before it
      throw e;
    }
    return gp;
  }

  /** Every slot of the model (QKV packed), in encoder order. */
  private slotSpecs(): SlotSpec[] {
    const { cfg, names } = this;
    const H = cfg.hidden;
    const I = cfg.intermediate;
    const one = (name: string, shape: number[]): SlotSpec => ({ label: name, shape, decay: hasWeightDecay(name), names: [{ name, offset: 0, shape }] });
    const e = names.embeddings;
    const specs = [
      one(e.word, [cfg.vocabSize, H]),
      one(e.position, [cfg.maxPositions, H]),
      one(e.tokenType, [cfg.typeVocabSize, H]),
      one(e.lnW, [H]),
      one(e.lnB, [H]),
    ];
    for (let i = 0; i < cfg.layers; i++) {
      const l: LayerNames = names.layers[i];
      specs.push(
        { label: `layer.${i}.qkv.weight`, shape: [3 * H, H], decay: true, names: [l.qW, l.kW, l.vW].map((name, j) => ({ name, offset: j * H * H, shape: [H, H] })) },
        { label: `layer.${i}.qkv.bias`, shape: [3 * H], decay: false, names: [l.qB, l.kB, l.vB].map((name, j) => ({ name, offset: j * H, shape: [H] })) },
        one(l.aoW, [H, H]), one(l.aoB, [H]), one(l.ln1W, [H]), one(l.ln1B, [H]),
        one(l.fiW, [I, H]), one(l.fiB, [I]), one(l.foW, [H, I]), one(l.foB, [H]), one(l.ln2W, [H]), one(l.ln2B, [H]),
      );
    }
    const h = names.head;
    specs.push(one(h.denseW, [H, H]), one(h.denseB, [H]), one(h.outW, [cfg.numLabels, H]), one(h.outB, [cfg.numLabels]));
    return specs;
  }

  /**
   * Lays the slots out (decay slots first, each start aligned for binding), allocates the parameter arenas and
   * makes each slot's view. An arena holds at most what one binding may cover.
   */
  private async allocate(): Promise<void> {
    const rt = this.rt;
    const align = rt.device.limits.minStorageBufferOffsetAlignment / 4; // elements
    const lim = rt.info.limits;
    const cap = Math.floor(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / 4 / align) * align;
    const specs = this.slotSpecs();
    const ordered = [...specs.filter((x) => x.decay), ...specs.filter((x) => !x.decay)];
    const layout: { arena: number; start: number }[] = [];
    const sizes: { elements: number; decayEnd: number }[] = [{ elements: 0, decayEnd: 0 }];
    for (const spec of ordered) {
      const numel = spec.shape.reduce((a, b) => a * b, 1);
      if (numel * 4 > lim.maxStorageBufferBindingSize) {
        throw new GpuLimitError(
          `Parameter '${spec.label}' [${spec.shape.join(', ')}] needs ${fmtBytes(numel * 4)} in one buffer, but this adapter binds at most ` +
            `${fmtBytes(lim.maxStorageBufferBindingSize)} (maxStorageBufferBindingSize). Use a GPU/browser with a larger limit, or a model with a smaller vocabulary.`,
          'maxStorageBufferBindingSize',
          lim.maxStorageBufferBindingSize,
        );
      }
      let a = sizes[sizes.length - 1];
      let start = Math.ceil(a.elements / align) * align;
      if (start + numel > cap) {
        sizes.push((a = { elements: 0, decayEnd: 0 }));
        start = 0;
      }
      a.elements = start + numel;
      if (spec.decay) a.decayEnd = Math.ceil(a.elements / align) * align; // the no-decay range starts aligned
      layout.push({ arena: sizes.length - 1, start });
    }
    for (const [i, a] of sizes.entries()) {
      const padded = Math.ceil(a.elements / align) * align;
      const p = await rt.pool.tensor([padded], `params.${i}`);
      await fill(rt, { y: p, n: padded, value: 0 }); // the alignment gaps stay zero in every arena kind
      this.arenas.push({ elements: padded, decayEnd: a.decayEnd, p });
    }
    const bySpec = new Map<SlotSpec, Slot>();
    ordered.forEach((spec, i) => {
      const { arena, start } = layout[i];
      const numel = spec.shape.reduce((a, b) => a * b, 1);
      const slot: Slot = { label: spec.label, shape: spec.shape, numel, decay: spec.decay, arena, start, p: this.view('p', arena, start, spec.shape, spec.label) };
      bySpec.set(spec, slot);
      for (const n of spec.names) this.byName.set(n.name, { slot, offset: start + n.offset, shape: n.shape, numel: n.shape.reduce((a, b) => a * b, 1) });
    });
    // Encoder order (the order the specs were made in), for whoever walks every slot.
    for (const spec of specs) this.slots.push(bySpec.get(spec)!);
    this.bindSlots(specs.map((x) => bySpec.get(x)!));
  }

  private view(kind: 'p' | 'g' | 'm' | 'v', arena: number, start: number, shape: number[], label: string): Tensor {
    const t = this.arenas[arena][kind]!;
    return { buffer: t.buffer, offset: start * 4, shape, dtype: 'f32', label: kind === 'p' ? label : `${kind}:${label}` };
  }

  /** Names the slots the encoder reads (embeddings, layers, head), in slotSpecs() order. */
  private bindSlots(s: Slot[]): void {
    let k = 0;
    const next = () => s[k++];
    this.emb = { word: next(), position: next(), tokenType: next(), lnW: next(), lnB: next() };
    for (let i = 0; i < this.cfg.layers; i++) {
      this.layers.push({
        qkvW: next(), qkvB: next(), aoW: next(), aoB: next(), ln1W: next(), ln1B: next(),
        fiW: next(), fiB: next(), foW: next(), foB: next(), ln2W: next(), ln2B: next(),
      });
    }
    this.head = { denseW: next(), denseB: next(), outW: next(), outB: next() };
  }

  /** Writes parameter values (all names, or a subset) into their slots. */
  write(params: ReadonlyMap<string, Float32Array>): void {
    for (const [name, values] of params) {
      const ref = this.byName.get(name);
      if (!ref) continue;
      if (values.length !== ref.numel) {
        throw new Error(`parameter '${name}': ${values.length} values, expected ${ref.numel} [${ref.shape.join(', ')}]`);
      }
      this.rt.write(ref.slot.p.buffer, values, ref.offset * 4);
    }
  }

  /** Reads back every parameter under its HF name (paramSpecs order). */
  async read(which: 'p' | 'g' | 'm' | 'v' = 'p'): Promise<Map<string, Float32Array>> {
    const bySlot = new Map<Slot, Float32Array>();
    for (const s of this.slots) {
      const t = s[which];
      if (!t) throw new Error(`no '${which}' buffers allocated`);
      bySlot.set(s, new Float32Array(await this.rt.read(t.buffer, s.numel * 4, s.start * 4)));
    }
    const out = new Map<string, Float32Array>();
    for (const spec of paramSpecs(this.cfg)) {
      const ref = this.byName.get(spec.name)!;
      const at = ref.offset - ref.slot.start;
      out.set(spec.name, bySlot.get(ref.slot)!.slice(at, at + ref.numel));
    }
    return out;
  }

  /** Gradient buffers, zeroed. */
  async allocGrads(): Promise<void> {
    await this.allocKind('g', 'grad');
  }

  /** AdamW first and second moments, zeroed. */
  async allocOptimizer(): Promise<void> {
    await this.allocKind('m', 'adam.m');
    await this.allocKind('v', 'adam.v');
  }

  private async allocKind(kind: 'g' | 'm' | 'v', what: string): Promise<void> {
    if (this.arenas.every((a) => a[kind])) return;
    for (const [i, a] of this.arenas.entries()) {
      if (a[kind]) continue;
      const t = await this.rt.pool.tensor([a.elements], `${what}.${i}`);
      await fill(this.rt, { y: t, n: a.elements, value: 0 }); // pooled buffers may hold old data
      a[kind] = t;
    }
    for (const s of this.slots) s[kind] = this.view(kind, s.arena, s.start, s.shape, s.label);
  }

  async zeroGrads(): Promise<void> {
    for (const a of this.arenas) if (a.g) await fill(this.rt, { y: a.g, n: a.elements, value: 0 });
  }

  get count(): number {
    return this.slots.reduce((a, s) => a + s.numel, 0);
  }

  release(): void {
    for (const a of this.arenas) for (const t of [a.p, a.g, a.m, a.v]) if (t) this.rt.pool.release(t);
    this.arenas.length = 0;
    this.slots.length = 0;
  }
}
