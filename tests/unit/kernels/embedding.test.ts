import { describe, expect, it } from 'vitest';
import {
  bertPositionIds,
  embeddingBackward,
  embeddingForward,
  embeddingGradPlan,
  embeddingTableBackward,
  robertaPositionIds,
  uploadEmbeddingBatch,
  uploadEmbeddingGradPlan,
} from '../../../src/kernels/embedding.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng, withGridLimit } from '../helpers/gpu.ts';

type Vec = ArrayLike<number>;

function forwardRef(ids: Vec, posIds: Vec, types: Vec, word: Vec, pos: Vec, type: Vec, cols: number): Float64Array {
  return reference.embeddingForward(word, pos, type, ids, posIds, types, cols);
}

/** One table's reference gradient (dTable0 plus the rows of `ids`, skipping skipId): the reference's
 * embeddingBackward with this table as the word table and one-row stand-ins for the other two. */
function tableBackwardRef(dOut: Vec, ids: Vec, dTable0: Vec, cols: number, skipId?: number): Float64Array {
  const dTable = Float64Array.from(dTable0);
  const row0 = new Uint32Array(ids.length);
  reference.embeddingBackward(dOut, ids, row0, row0, cols, dTable, new Float64Array(cols), new Float64Array(cols), { word: skipId });
  return dTable;
}

/** A padded batch like the tokenizer makes: [CLS]=2 … [SEP]=3, pad = padId after a random length. */
function makeBatch(batch: number, seqLen: number, vocab: number, padId: number, r: () => number) {
  const ids = new Uint32Array(batch * seqLen);
  const types = new Uint32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const len = 2 + Math.floor(r() * (seqLen - 1));
    const split = 1 + Math.floor(r() * (len - 1));
    for (let i = 0; i < seqLen; i++) {
      const k = b * seqLen + i;
      // a small vocabulary slice so ids repeat (some more often than a segment)
      ids[k] = i === 0 ? 2 : i === len - 1 ? 3 : i < len ? 4 + Math.floor(r() * r() * (vocab - 4)) : padId;
      types[k] = i >= split && i < len ? 1 : 0;
    }
  }
  return { ids, types };
}

const cases = [
  { batch: 3, seqLen: 9, cols: 24, vocab: 40, segment: 2 },
  { batch: 5, seqLen: 13, cols: 37, vocab: 3000, segment: 64 },
  { batch: 4, seqLen: 16, cols: 100, vocab: 120, segment: 3 },
  { batch: 2, seqLen: 20, cols: 768, vocab: 60, segment: 7 },
];

describe('embedding', () => {
  for (const s of cases) {
    for (const arch of ['bert', 'xlmr'] as const) {
      it(`${arch}: forward and deterministic backward, batch=${s.batch} len=${s.seqLen} cols=${s.cols} segment=${s.segment}`, async () => {
        const rt = await gpu();
        const r = rng(s.cols * 7 + s.batch + (arch === 'xlmr' ? 1000 : 0));
        const { batch, seqLen, cols, vocab, segment } = s;
        const T = batch * seqLen;
        const padId = arch === 'bert' ? 0 : 1;
        const { ids, types: t0 } = makeBatch(batch, seqLen, vocab, padId, r);
        const types = arch === 'bert' ? t0 : new Uint32Array(T);
        const posIds = arch === 'bert' ? bertPositionIds(batch, seqLen) : robertaPositionIds(ids, batch, seqLen, padId);
        const sizes = {
          vocabSize: vocab,
          maxPositions: arch === 'bert' ? seqLen + 3 : seqLen + 2,
          typeVocabSize: arch === 'bert' ? 2 : 1,
          wordPaddingIdx: padId,
          positionPaddingIdx: arch === 'bert' ? undefined : padId,
        };
        const word = randomF32(vocab * cols, r);
        const pos = randomF32(sizes.maxPositions * cols, r);
        const type = randomF32(sizes.typeVocabSize * cols, r);
        const W = await rt.pool.upload(word, [vocab, cols], 'word');
        const P = await rt.pool.upload(pos, [sizes.maxPositions, cols], 'pos');
        const Ty = await rt.pool.upload(type, [sizes.typeVocabSize, cols], 'type');
        const O = await rt.pool.tensor([T, cols], 'emb');
        const gb = await uploadEmbeddingBatch(rt, { inputIds: ids, positionIds: posIds, tokenTypeIds: types }, sizes, segment);
        await embeddingForward(rt, { ids: gb.ids, posIds: gb.posIds, typeIds: gb.typeIds, word: W, pos: P, type: Ty, out: O, tokens: T, cols });
        const out = await rt.readF32(O.buffer);
        expect(maxRelErr(out, forwardRef(ids, posIds, types, word, pos, type, cols))).toBeLessThan(TOL.f32);
        // bit-exact with HF's f32 order: (word + token_type) + position
        for (let t = 0; t < T; t += 5) {
          const c = t % cols;
          const f = Math.fround(Math.fround(word[ids[t] * cols + c] + type[types[t] * cols + c]) + pos[posIds[t] * cols + c]);
          expect(out[t * cols + c]).toBe(f);
        }

        // backward into gradient buffers that already hold something (accumulation across micro-batches)
        const dOut = randomF32(T * cols, r);
        const dW0 = randomF32(vocab * cols, r);
        const dP0 = randomF32(sizes.maxPositions * cols, r);
        const dT0 = randomF32(sizes.typeVocabSize * cols, r);
        const DO = await rt.pool.upload(dOut, [T, cols], 'dEmb');
        const DW = await rt.pool.upload(dW0, [vocab, cols], 'dWord');
        const DP = await rt.pool.upload(dP0, [sizes.maxPositions, cols], 'dPos');
        const DT = await rt.pool.upload(dT0, [sizes.typeVocabSize, cols], 'dType');
        const tables = [
          { dTable: DW, plan: gb.plans.word },
          { dTable: DP, plan: gb.plans.pos },
          { dTable: DT, plan: gb.plans.type },
        ];
        await embeddingBackward(rt, { dOut: DO, cols, tables });
        const dW = await rt.readF32(DW.buffer);
        const dP = await rt.readF32(DP.buffer);
        const dT = await rt.readF32(DT.buffer);
        const eW = maxRelErr(dW, tableBackwardRef(dOut, ids, dW0, cols, padId));
        const eP = maxRelErr(dP, tableBackwardRef(dOut, posIds, dP0, cols, sizes.positionPaddingIdx));
        const eT = maxRelErr(dT, tableBackwardRef(dOut, types, dT0, cols));
        console.log(
          `[embedding] ${arch} T=${T} cols=${cols}: out ok; dWord ${eW.toExponential(2)} (${gb.plans.word.direct} direct, ${gb.plans.word.big} split ids) ` +
            `dPos ${eP.toExponential(2)} dType ${eT.toExponential(2)} (${gb.plans.type.segments} segments)`,
        );
        expect(eW).toBeLessThan(TOL.f32Reduction);
        expect(eP).toBeLessThan(TOL.f32Reduction);
        expect(eT).toBeLessThan(TOL.f32Reduction);
        // rows not in the batch, and the padding rows, are untouched to the bit
        const inBatch = new Set(Array.from(ids).filter((v) => v !== padId));
        for (let v = 0; v < vocab; v++) {
          if (inBatch.has(v)) continue;
          expect(Array.from(dW.subarray(v * cols, (v + 1) * cols))).toEqual(Array.from(dW0.subarray(v * cols, (v + 1) * cols)));
        }
        if (arch === 'xlmr') {
          expect(Array.from(dP.subarray(padId * cols, (padId + 1) * cols))).toEqual(Array.from(dP0.subarray(padId * cols, (padId + 1) * cols)));
        }
        // the same inputs give the same bits
        rt.write(DW.buffer, dW0);
        rt.write(DT.buffer, dT0);
        await embeddingBackward(rt, { dOut: DO, cols, tables: [tables[0], tables[2]] });
        expect(Array.from(await rt.readF32(DW.buffer))).toEqual(Array.from(dW));
        expect(Array.from(await rt.readF32(DT.buffer))).toEqual(Array.from(dT));
        gb.release();
        for (const t of [W, P, Ty, O, DO, DW, DP, DT]) rt.pool.release(t);
      });
    }
  }

  it('spreads tokens and groups over a 2-D grid past the per-dimension limit', async () => {
    const rt = await gpu();
    const r = rng(5);
    const [batch, seqLen, cols, vocab] = [4, 10, 40, 30];
    const T = batch * seqLen;
    const { ids, types } = makeBatch(batch, seqLen, vocab, 0, r);
    const posIds = bertPositionIds(batch, seqLen);
    const sizes = { vocabSize: vocab, maxPositions: seqLen, typeVocabSize: 2, wordPaddingIdx: 0 };
    const word = randomF32(vocab * cols, r);
    const pos = randomF32(seqLen * cols, r);
    const type = randomF32(2 * cols, r);
    const W = await rt.pool.upload(word, [vocab, cols], 'word');
    const P = await rt.pool.upload(pos, [seqLen, cols], 'pos');
    const Ty = await rt.pool.upload(type, [2, cols], 'type');
    const O = await rt.pool.tensor([T, cols], 'emb');
    const gb = await uploadEmbeddingBatch(rt, { inputIds: ids, positionIds: posIds, tokenTypeIds: types }, sizes, 3);
    const dOut = randomF32(T * cols, r);
    const DO = await rt.pool.upload(dOut, [T, cols], 'dEmb');
    const DP = await rt.pool.upload(new Float32Array(seqLen * cols), [seqLen, cols], 'dPos');
    const DT = await rt.pool.upload(new Float32Array(2 * cols), [2, cols], 'dType');
    // 1600 outputs = 7 workgroups of 256, 10 position groups, > 9 type segments: all need a second grid row at 5
    await withGridLimit(rt, 5, async () => {
      await embeddingForward(rt, { ids: gb.ids, posIds: gb.posIds, typeIds: gb.typeIds, word: W, pos: P, type: Ty, out: O, tokens: T, cols });
      await embeddingTableBackward(rt, { dOut: DO, dTable: DP, plan: gb.plans.pos, cols });
      await embeddingTableBackward(rt, { dOut: DO, dTable: DT, plan: gb.plans.type, cols });
    });
    expect(gb.plans.type.segments).toBeGreaterThan(5);
    expect(maxRelErr(await rt.readF32(O.buffer), forwardRef(ids, posIds, types, word, pos, type, cols))).toBeLessThan(TOL.f32);
    expect(maxRelErr(await rt.readF32(DP.buffer), tableBackwardRef(dOut, posIds, new Float32Array(seqLen * cols), cols))).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr(await rt.readF32(DT.buffer), tableBackwardRef(dOut, types, new Float32Array(2 * cols), cols))).toBeLessThan(TOL.f32Reduction);
    gb.release();
    for (const t of [W, P, Ty, O, DO, DP, DT]) rt.pool.release(t);
  });

  it('a large vocabulary costs only the rows in the batch', async () => {
    const rt = await gpu();
    const r = rng(9);
    const vocab = 250002;
    const cols = 8;
    const ids = Uint32Array.from([0, 250001, 17, 17, 5, 1, 250001, 2]);
    const plan = await uploadEmbeddingGradPlan(rt, embeddingGradPlan(ids, vocab, { skipId: 1, table: 'word' }));
    expect(Array.from(plan.distinctIds)).toEqual([0, 2, 5, 17, 250001]);
    expect(plan.data.length).toBeLessThan(64); // nothing sized by the vocabulary
    const dOut = randomF32(ids.length * cols, r);
    const DO = await rt.pool.upload(dOut, [ids.length, cols], 'dEmb');
    const DW = await rt.pool.upload(new Float32Array(vocab * cols), [vocab, cols], 'dWord');
    await embeddingTableBackward(rt, { dOut: DO, dTable: DW, plan, cols });
    const got = await rt.readF32(DW.buffer);
    const want = tableBackwardRef(dOut, ids, new Float32Array(vocab * cols), cols, 1);
    expect(maxRelErr(got, want)).toBeLessThan(TOL.f32);
    rt.pool.release(plan.buffer);
    rt.pool.release(DO);
    rt.pool.release(DW);
  });

  it('builds the plan: ascending ids, ascending positions, long groups cut into segments', () => {
    const ids = [7, 3, 7, 7, 0, 3, 7, 7, 9, 0];
    const p = embeddingGradPlan(ids, 10, { skipId: 0, segment: 2 });
    expect(Array.from(p.distinctIds)).toEqual([3, 7, 9]);
    expect(p.direct).toBe(2); // 3 (2 tokens) and 9 (1 token)
    expect(p.big).toBe(1); // 7 (5 tokens) → segments of 2, 2, 1
    expect(p.segments).toBe(3);
    const d = p.data;
    expect(Array.from(d.subarray(p.offsets.order))).toEqual([1, 5, 0, 2, 3, 6, 7, 8]);
    expect(Array.from(d.subarray(p.offsets.direct, p.offsets.big))).toEqual([3, 0, 2, 9, 7, 1]);
    expect(Array.from(d.subarray(p.offsets.big, p.offsets.segments))).toEqual([7, 0, 3]);
    expect(Array.from(d.subarray(p.offsets.segments, p.offsets.order))).toEqual([2, 2, 4, 2, 6, 1]);
  });

  it('computes position ids as Hugging Face does', () => {
    expect(Array.from(bertPositionIds(2, 4))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    // XLM-R, padding_idx 1: <s>=0 … </s>=2, then pads
    expect(Array.from(robertaPositionIds([0, 5, 6, 2, 1, 1, 0, 9, 2, 2, 8, 2], 2, 6, 1))).toEqual([2, 3, 4, 5, 1, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects ids outside their table and bad shapes, naming the kernel', async () => {
    const rt = await gpu();
    expect(() => embeddingGradPlan([1, 2, 66], 66, { table: 'position' })).toThrow(/\[embedding\] position id 66 at token 2 is outside the table's 66 rows/);
    expect(() => embeddingGradPlan([1, -1], 5, { table: 'word' })).toThrow(/word id -1 at token 1/);
    const F = await rt.pool.tensor([4, 8], 'f');
    const U = await rt.pool.upload(new Uint32Array(4), [4], 'ids');
    const O = await rt.pool.tensor([4, 8], 'out');
    await expect(
      embeddingForward(rt, { ids: F, posIds: U, typeIds: U, word: F, pos: F, type: F, out: O, tokens: 4, cols: 8 }),
    ).rejects.toThrow(/\[embedding\] forward: ids 'f' must be a u32 tensor/);
    await expect(
      embeddingForward(rt, { ids: U, posIds: U, typeIds: U, word: F, pos: F, type: F, out: O, tokens: 5, cols: 8 }),
    ).rejects.toThrow(/ids 'ids' has 4 elements \[4\], needs 5/);
    await expect(
      embeddingForward(rt, { ids: U, posIds: U, typeIds: U, word: F, pos: F, type: F, out: O, tokens: 4, cols: 6 }),
    ).rejects.toThrow(/word 'f' \[4,8\] is not a whole number of rows of 6/);
    await expect(
      uploadEmbeddingBatch(rt, { inputIds: [1, 2], positionIds: [0], tokenTypeIds: [0, 0] }, { vocabSize: 5, maxPositions: 5, typeVocabSize: 1 }),
    ).rejects.toThrow(/2 input ids but 1 position ids/);
    for (const t of [F, U, O]) rt.pool.release(t);
  });
});
