// Launchers and CPU helpers for shaders/embedding.wgsl (float64 reference in src/model/reference/).
//
//   embeddingForward(rt, {ids, posIds, typeIds, word, pos, type, out, tokens, cols})
//       out [T, H] = (word[ids] + type[typeIds]) + pos[posIds]; ids, posIds, typeIds are u32 [T] tensors.
//   embeddingGradPlan(ids, tableRows, {skipId?, segment?, table?})  (CPU)  → uploadEmbeddingGradPlan(rt, plan)
//   embeddingTableBackward(rt, {dOut, dTable, plan, cols})   dTable[id] += Σ dOut rows of id, for ids in the batch
//   embeddingBackward(rt, {dOut, cols, tables: [{dTable, plan}, …]})
//   uploadEmbeddingBatch(rt, ids, tables)  uploads the three id tensors and the three plans for one batch
//   bertPositionIds / robertaPositionIds (CPU)   position ids as Hugging Face computes them
//
// nn.Embedding(padding_idx=…) never updates its padding row, so a plan takes `skipId`: BERT and XLM-R word
// embeddings skip pad_token_id; XLM-R (RoBERTa) position embeddings skip padding_idx (= pad_token_id); BERT
// position and token-type embeddings skip nothing.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

const KERNEL = 'embedding';
/** Tokens per group summed in one pass; a longer group (token types, pad-free frequent ids) is cut into segments. */
export const EMBEDDING_SEGMENT = 64;

function wgFor(cols: number): number {
  let wg = 32;
  while (wg < 256 && wg < cols) wg *= 2;
  return wg;
}

function need(what: string, t: Tensor, n: number, name: string): void {
  needElements(KERNEL, t, n, `${what}: ${name}`);
}

function rowsOf(t: Tensor, cols: number, name: string, what: string): number {
  const n = numel(t.shape);
  if (n % cols !== 0) throw new KernelShapeError(KERNEL, `${what}: ${name} '${t.label}' [${t.shape}] is not a whole number of rows of ${cols}`);
  return n / cols;
}

// ---- forward ------------------------------------------------------------------------------------------------------

export interface EmbeddingForwardArgs {
  /** u32 [T] input_ids */
  ids: Tensor;
  /** u32 [T] position ids (bertPositionIds / robertaPositionIds) */
  posIds: Tensor;
  /** u32 [T] token_type_ids */
  typeIds: Tensor;
  /** [vocab, H] */
  word: Tensor;
  /** [maxPositions, H] */
  pos: Tensor;
  /** [typeVocab, H] */
  type: Tensor;
  /** [T, H] */
  out: Tensor;
  tokens: number;
  cols: number;
}

export async function embeddingForward(rt: GpuRuntime, a: EmbeddingForwardArgs): Promise<void> {
  const what = 'forward';
  if (!Number.isInteger(a.tokens) || a.tokens < 0 || !Number.isInteger(a.cols) || a.cols < 1) {
    throw new KernelShapeError(KERNEL, `${what}: tokens must be ≥ 0 and cols ≥ 1, integers (got tokens=${a.tokens}, cols=${a.cols})`);
  }
  for (const [t, name] of [
    [a.ids, 'ids'],
    [a.posIds, 'posIds'],
    [a.typeIds, 'typeIds'],
  ] as const) {
    if (t.dtype === 'f32') throw new KernelShapeError(KERNEL, `${what}: ${name} '${t.label}' must be a u32 tensor, got f32`);
    need(what, t, a.tokens, name);
  }
  need(what, a.out, a.tokens * a.cols, 'out');
  const vocab = rowsOf(a.word, a.cols, 'word', what);
  const maxPos = rowsOf(a.pos, a.cols, 'pos', what);
  const types = rowsOf(a.type, a.cols, 'type', what);
  for (const t of [a.ids, a.posIds, a.typeIds, a.word, a.pos, a.type]) {
    if (overlaps(t, a.out)) throw new KernelShapeError(KERNEL, `${what}: out '${a.out.label}' shares its buffer with '${t.label}'`);
  }
  if (a.tokens === 0) return;
  const WG = 256;
  await launch(rt, {
    kernel: `${KERNEL}.forward`,
    shader: 'embedding',
    entry: 'forward',
    prelude: `const WG = ${WG}u;`,
    bindings: [a.ids, a.posIds, a.typeIds, a.word, a.pos, a.type, a.out],
    params: [a.tokens, a.cols, vocab, maxPos, types, 0, 0, 0],
    workgroups: grid(rt, Math.ceil((a.tokens * a.cols) / WG)),
  });
}

// ---- the gradient plan (CPU) ------------------------------------------------------------------------------------

/**
 * How one table's gradient is gathered for one batch. Packed into one u32 array:
 *   data[offsets.direct …]   (id, start, count) per id with count ≤ segment      → grad_direct
 *   data[offsets.big …]      (id, firstSegment, segments) per id with more tokens → grad_reduce
 *   data[offsets.segments …] (start, count) per segment of those ids             → grad_partial
 *   data[offsets.order …]    token positions grouped by id (ascending ids, ascending positions)
 */
export interface EmbeddingGradPlan {
  table: string;
  tableRows: number;
  tokens: number;
  /** Ids that receive gradient, ascending (skipId excluded). */
  distinctIds: Uint32Array;
  direct: number;
  big: number;
  segments: number;
  data: Uint32Array;
  offsets: { direct: number; big: number; segments: number; order: number };
}

export interface EmbeddingGradPlanOptions {
  /** The padding_idx of the nn.Embedding: its row never gets gradient. */
  skipId?: number;
  /** Tokens per segment (default EMBEDDING_SEGMENT). */
  segment?: number;
  /** Name used in error messages ('word', 'position', 'token type'). */
  table?: string;
}

/** Throws a clear error for an id that is not a whole number in [0, rows). */
export function checkIds(ids: ArrayLike<number>, rows: number, table: string): void {
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= rows) {
      throw new KernelShapeError(
        KERNEL,
        `${table} id ${id} at token ${t} is outside the table's ${rows} rows. The tokenizer, the position ids and config.json ` +
          `(vocab_size, max_position_embeddings, type_vocab_size) must agree; lower max_length if positions run past the table.`,
      );
    }
  }
}

export function embeddingGradPlan(ids: ArrayLike<number>, tableRows: number, opts: EmbeddingGradPlanOptions = {}): EmbeddingGradPlan {
  const table = opts.table ?? 'embedding';
  const seg = opts.segment ?? EMBEDDING_SEGMENT;
  if (!Number.isInteger(seg) || seg < 1) throw new KernelShapeError(KERNEL, `plan: segment must be a positive integer (got ${seg})`);
  checkIds(ids, tableRows, table);
  const skip = opts.skipId ?? -1;
  // Counting by id through a Map keeps the cost at O(T log T) whatever the table size (250k rows are never walked).
  const counts = new Map<number, number>();
  let kept = 0;
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id === skip) continue;
    counts.set(id, (counts.get(id) ?? 0) + 1);
    kept++;
  }
  const distinctIds = Uint32Array.from(counts.keys()).sort();
  const start = new Map<number, number>();
  let direct = 0;
  let big = 0;
  let segments = 0;
  let at = 0;
  for (const id of distinctIds) {
    const n = counts.get(id)!;
    start.set(id, at);
    at += n;
    if (n <= seg) direct++;
    else {
      big++;
      segments += Math.ceil(n / seg);
    }
  }
  const offsets = { direct: 0, big: 3 * direct, segments: 3 * direct + 3 * big, order: 3 * direct + 3 * big + 2 * segments };
  const data = new Uint32Array(offsets.order + kept);
  // order: positions grouped by id, ascending within each id (a stable counting sort)
  const fillAt = new Map(start);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id === skip) continue;
    const k = fillAt.get(id)!;
    data[offsets.order + k] = t;
    fillAt.set(id, k + 1);
  }
  let d = offsets.direct;
  let b = offsets.big;
  let s = offsets.segments;
  let segIndex = 0;
  for (const id of distinctIds) {
    const n = counts.get(id)!;
    const st = start.get(id)!;
    if (n <= seg) {
      data[d++] = id;
      data[d++] = st;
      data[d++] = n;
    } else {
      const m = Math.ceil(n / seg);
      data[b++] = id;
      data[b++] = segIndex;
      data[b++] = m;
      for (let j = 0; j < m; j++) {
        data[s++] = st + j * seg;
        data[s++] = Math.min(seg, n - j * seg);
      }
      segIndex += m;
    }
  }
  return { table, tableRows, tokens: ids.length, distinctIds, direct, big, segments, data, offsets };
}

export interface EmbeddingGradPlanGpu extends EmbeddingGradPlan {
  /** u32 tensor holding `data` */
  buffer: Tensor;
}

export async function uploadEmbeddingGradPlan(rt: GpuRuntime, plan: EmbeddingGradPlan): Promise<EmbeddingGradPlanGpu> {
  const data = plan.data.length ? plan.data : new Uint32Array(1);
  const buffer = await rt.pool.upload(data, [data.length], `embedding.plan(${plan.table})`);
  return { ...plan, buffer };
}

/** f32 elements of scratch embeddingTableBackward needs for this plan (0 when no id has more than `segment` tokens). */
export function embeddingScratchElements(plan: EmbeddingGradPlan, cols: number): number {
  return plan.segments * cols;
}

// ---- backward ---------------------------------------------------------------------------------------------------

export interface EmbeddingTableBackwardArgs {
  /** [T, H] gradient of the embedding output (after the embedding LayerNorm's backward) */
  dOut: Tensor;
  /** [tableRows, H] gradient buffer; only rows of ids in the batch change (+=) */
  dTable: Tensor;
  plan: EmbeddingGradPlanGpu;
  cols: number;
  /** At least embeddingScratchElements(plan, cols) f32; taken from the pool when absent and needed. */
  scratch?: Tensor;
}

export async function embeddingTableBackward(rt: GpuRuntime, a: EmbeddingTableBackwardArgs): Promise<void> {
  const what = `backward(${a.plan.table})`;
  const { plan, cols } = a;
  if (!Number.isInteger(cols) || cols < 1) throw new KernelShapeError(KERNEL, `${what}: cols must be a positive integer (got ${cols})`);
  need(what, a.dOut, plan.tokens * cols, 'dOut');
  need(what, a.dTable, plan.tableRows * cols, 'dTable');
  if (a.plan.buffer.dtype === 'f32') throw new KernelShapeError(KERNEL, `${what}: the plan buffer must be u32 (use uploadEmbeddingGradPlan)`);
  need(what, a.plan.buffer, plan.data.length, 'plan');
  if (overlaps(a.dTable, a.dOut)) throw new KernelShapeError(KERNEL, `${what}: dTable may not share a buffer with dOut`);
  const scratchElems = embeddingScratchElements(plan, cols);
  if (a.scratch) {
    need(what, a.scratch, scratchElems, 'scratch');
    if (overlaps(a.scratch, a.dOut) || overlaps(a.scratch, a.dTable)) {
      throw new KernelShapeError(KERNEL, `${what}: scratch must be its own buffer`);
    }
  }
  const WG = wgFor(cols);
  const prelude = `const WG = ${WG}u;`;
  const base = { kernel: `${KERNEL}.backward`, shader: 'embedding', prelude };
  if (plan.direct > 0) {
    await launch(rt, {
      ...base,
      entry: 'grad_direct',
      bindings: [a.dOut, plan.buffer, a.dTable],
      params: [cols, plan.direct, plan.offsets.direct, plan.offsets.order],
      workgroups: grid(rt, plan.direct),
    });
  }
  if (plan.big === 0) return;
  // Rounded up to a power of two so batches with different segment counts reuse one pooled buffer.
  const scratch = a.scratch ?? (await rt.pool.tensor([2 ** Math.ceil(Math.log2(scratchElems))], 'embedding.scratch'));
  try {
    await launch(rt, {
      ...base,
      entry: 'grad_partial',
      bindings: [a.dOut, plan.buffer, scratch],
      params: [cols, plan.segments, plan.offsets.segments, plan.offsets.order],
      workgroups: grid(rt, plan.segments),
    });
    await launch(rt, {
      ...base,
      entry: 'grad_reduce',
      bindings: [scratch, plan.buffer, a.dTable],
      params: [cols, plan.big, plan.offsets.big, plan.offsets.order],
      workgroups: grid(rt, plan.big),
    });
  } finally {
    // Safe to hand back at once: later users record after these dispatches, and queue writes submit first.
    if (!a.scratch) rt.pool.release(scratch);
  }
}

/** All tables of one batch (word, position, token type), each with its own plan. */
export async function embeddingBackward(
  rt: GpuRuntime,
  a: { dOut: Tensor; cols: number; tables: { dTable: Tensor; plan: EmbeddingGradPlanGpu }[] },
): Promise<void> {
  for (const t of a.tables) await embeddingTableBackward(rt, { dOut: a.dOut, dTable: t.dTable, plan: t.plan, cols: a.cols });
}

// ---- one batch's ids --------------------------------------------------------------------------------------------

export interface EmbeddingTableSizes {
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  /** padding_idx of the word embedding (config.pad_token_id), if any */
  wordPaddingIdx?: number;
  /** padding_idx of the position embedding (XLM-R/RoBERTa: pad_token_id; BERT: none) */
  positionPaddingIdx?: number;
}

export interface EmbeddingBatchGpu {
  tokens: number;
  ids: Tensor;
  posIds: Tensor;
  typeIds: Tensor;
  plans: { word: EmbeddingGradPlanGpu; pos: EmbeddingGradPlanGpu; type: EmbeddingGradPlanGpu };
  /** Returns the five buffers to the pool. */
  release(): void;
}

/** Validates and uploads one batch's input ids, position ids and token type ids, with the three gradient plans. */
export async function uploadEmbeddingBatch(
  rt: GpuRuntime,
  batch: { inputIds: ArrayLike<number>; positionIds: ArrayLike<number>; tokenTypeIds: ArrayLike<number> },
  sizes: EmbeddingTableSizes,
  segment = EMBEDDING_SEGMENT,
): Promise<EmbeddingBatchGpu> {
  const T = batch.inputIds.length;
  if (batch.positionIds.length !== T || batch.tokenTypeIds.length !== T) {
    throw new KernelShapeError(
      KERNEL,
      `batch: ${T} input ids but ${batch.positionIds.length} position ids and ${batch.tokenTypeIds.length} token type ids; all three must be [batch·length]`,
    );
  }
  const word = embeddingGradPlan(batch.inputIds, sizes.vocabSize, { skipId: sizes.wordPaddingIdx, segment, table: 'word' });
  const pos = embeddingGradPlan(batch.positionIds, sizes.maxPositions, { skipId: sizes.positionPaddingIdx, segment, table: 'position' });
  const type = embeddingGradPlan(batch.tokenTypeIds, sizes.typeVocabSize, { segment, table: 'token type' });
  const u32 = (v: ArrayLike<number>) => (T ? Uint32Array.from(v) : new Uint32Array(1));
  const shape = [Math.max(1, T)];
  const ids = await rt.pool.upload(u32(batch.inputIds), shape, 'input_ids');
  const posIds = await rt.pool.upload(u32(batch.positionIds), shape, 'position_ids');
  const typeIds = await rt.pool.upload(u32(batch.tokenTypeIds), shape, 'token_type_ids');
  const plans = {
    word: await uploadEmbeddingGradPlan(rt, word),
    pos: await uploadEmbeddingGradPlan(rt, pos),
    type: await uploadEmbeddingGradPlan(rt, type),
  };
  return {
    tokens: T,
    ids,
    posIds,
    typeIds,
    plans,
    release() {
      for (const t of [ids, posIds, typeIds, plans.word.buffer, plans.pos.buffer, plans.type.buffer]) rt.pool.release(t);
    },
  };
}

// ---- position ids (CPU) -----------------------------------------------------------------------------------------

/** BERT: 0 … seqLen−1 for every sequence, padding included. [batch·seqLen] */
export function bertPositionIds(batch: number, seqLen: number): Uint32Array {
  const out = new Uint32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) for (let i = 0; i < seqLen; i++) out[b * seqLen + i] = i;
  return out;
}

/**
 * XLM-R / RoBERTa (create_position_ids_from_input_ids): padding_idx + 1 + the running count of non-pad tokens, and
 * padding_idx itself at pad tokens. paddingIdx is config.pad_token_id (1 for XLM-R). [batch·seqLen]
 */
export function robertaPositionIds(inputIds: ArrayLike<number>, batch: number, seqLen: number, paddingIdx: number): Uint32Array {
  if (inputIds.length !== batch * seqLen) {
    throw new KernelShapeError(KERNEL, `position ids: ${inputIds.length} input ids, expected batch·seqLen = ${batch}·${seqLen}`);
  }
  const out = new Uint32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    let n = 0;
    for (let i = 0; i < seqLen; i++) {
      const k = b * seqLen + i;
      if (inputIds[k] === paddingIdx) out[k] = paddingIdx;
      else out[k] = paddingIdx + ++n;
    }
  }
  return out;
}
