// The model's parameters on the GPU, with their gradients and AdamW moments.
//
// Storage is by "slot": one GPU buffer per HF parameter, except each layer's query/key/value weights and biases,
// which share one buffer each ([Wq; Wk; Wv] is [3H, H] row-major, exactly the three [H, H] matrices one after
// the other), so a single matmul produces Q, K and V. Every HF name maps to (slot, element offset, shape), so
// uploads, downloads and saving keep the original names.

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
  p: Tensor;
  /** Created by allocGrads(). */
  g?: Tensor;
  /** Created by allocOptimizer(). */
  m?: Tensor;
  v?: Tensor;
}

export interface SlotRef {
  slot: Slot;
  offset: number;
  shape: number[];
  numel: number;
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

export class GpuParams {
  readonly slots: Slot[] = [];
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
      gp.release(); // a tensor that did not fit: give back the ones allocated before it
      throw e;
    }
    return gp;
  }

  private async newSlot(label: string, shape: number[], decay: boolean): Promise<Slot> {
    const numel = shape.reduce((a, b) => a * b, 1);
    const bytes = numel * 4;
    const lim = this.rt.info.limits.maxStorageBufferBindingSize;
    if (bytes > lim) {
      throw new GpuLimitError(
        `Parameter '${label}' [${shape.join(', ')}] needs ${fmtBytes(bytes)} in one buffer, but this adapter binds at most ` +
          `${fmtBytes(lim)} (maxStorageBufferBindingSize). Use a GPU/browser with a larger limit, or a model with a smaller vocabulary.`,
        'maxStorageBufferBindingSize',
        lim,
      );
    }
    const slot: Slot = { label, shape, numel, decay, p: await this.rt.pool.tensor(shape, label) };
    this.slots.push(slot);
    return slot;
  }

  private async single(name: string, shape: number[]): Promise<Slot> {
    const s = await this.newSlot(name, shape, hasWeightDecay(name));
    this.byName.set(name, { slot: s, offset: 0, shape, numel: s.numel });
    return s;
  }

  private async allocate(): Promise<void> {
    const { cfg, names } = this;
    const H = cfg.hidden;
    const I = cfg.intermediate;
    const e = names.embeddings;
    this.emb = {
      word: await this.single(e.word, [cfg.vocabSize, H]),
      position: await this.single(e.position, [cfg.maxPositions, H]),
      tokenType: await this.single(e.tokenType, [cfg.typeVocabSize, H]),
      lnW: await this.single(e.lnW, [H]),
      lnB: await this.single(e.lnB, [H]),
    };
    for (let i = 0; i < cfg.layers; i++) {
      const l: LayerNames = names.layers[i];
      const qkvW = await this.newSlot(`layer.${i}.qkv.weight`, [3 * H, H], true);
      const qkvB = await this.newSlot(`layer.${i}.qkv.bias`, [3 * H], false);
      [l.qW, l.kW, l.vW].forEach((n, j) => this.byName.set(n, { slot: qkvW, offset: j * H * H, shape: [H, H], numel: H * H }));
      [l.qB, l.kB, l.vB].forEach((n, j) => this.byName.set(n, { slot: qkvB, offset: j * H, shape: [H], numel: H }));
      this.layers.push({
        qkvW,
        qkvB,
        aoW: await this.single(l.aoW, [H, H]),
        aoB: await this.single(l.aoB, [H]),
        ln1W: await this.single(l.ln1W, [H]),
        ln1B: await this.single(l.ln1B, [H]),
        fiW: await this.single(l.fiW, [I, H]),
        fiB: await this.single(l.fiB, [I]),
        foW: await this.single(l.foW, [H, I]),
        foB: await this.single(l.foB, [H]),
        ln2W: await this.single(l.ln2W, [H]),
        ln2B: await this.single(l.ln2B, [H]),
      });
    }
    const h = names.head;
    this.head = {
      denseW: await this.single(h.denseW, [H, H]),
      denseB: await this.single(h.denseB, [H]),
      outW: await this.single(h.outW, [cfg.numLabels, H]),
      outB: await this.single(h.outB, [cfg.numLabels]),
    };
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
      bySlot.set(s, await this.rt.readF32(t.buffer, s.numel));
    }
    const out = new Map<string, Float32Array>();
    for (const spec of paramSpecs(this.cfg)) {
      const ref = this.byName.get(spec.name)!;
      out.set(spec.name, bySlot.get(ref.slot)!.slice(ref.offset, ref.offset + ref.numel));
    }
    return out;
  }

  /** Gradient buffers, zeroed. */
  async allocGrads(): Promise<void> {
    for (const s of this.slots) {
      if (!s.g) s.g = await this.zeroed(s, 'grad');
    }
  }

  /** AdamW first and second moments, zeroed. */
  async allocOptimizer(): Promise<void> {
    for (const s of this.slots) {
      if (!s.m) s.m = await this.zeroed(s, 'adam.m');
      if (!s.v) s.v = await this.zeroed(s, 'adam.v');
    }
  }

  private async zeroed(s: Slot, what: string): Promise<Tensor> {
    const t = await this.rt.pool.tensor(s.shape, `${what}:${s.label}`);
    await fill(this.rt, { y: t, n: s.numel, value: 0 }); // pooled buffers may hold old data
    return t;
  }

  async zeroGrads(): Promise<void> {
    for (const s of this.slots) if (s.g) await fill(this.rt, { y: s.g, n: s.numel, value: 0 });
  }

  get count(): number {
    return this.slots.reduce((a, s) => a + s.numel, 0);
  }

  release(): void {
    for (const s of this.slots) for (const t of [s.p, s.g, s.m, s.v]) if (t) this.rt.pool.release(t);
    this.slots.length = 0;
  }
}
