// Pair tokenisation against the fixtures' ids (transformers with truncation='only_second', padding='longest').
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPairTokenizer, TokenizerError } from '../../../src/model/tokenize.ts';
import { FIXTURES, fixtureDir, type FixtureBatch } from './fixture.ts';

function tokenizerFor(name: string) {
  const dir = fixtureDir(name);
  return createPairTokenizer(readFileSync(dir + 'tokenizer.json', 'utf8'), readFileSync(dir + 'tokenizer_config.json', 'utf8'));
}

describe.each(FIXTURES)('pair tokenisation (%s)', (name) => {
  const batch: FixtureBatch = JSON.parse(readFileSync(fixtureDir(name) + 'batch.json', 'utf8'));
  const tok = tokenizerFor(name);

  it('reproduces input_ids, attention_mask and token_type_ids exactly', () => {
    const out = tok.encodePairs(batch.queries, batch.documents, { maxLength: batch.max_length });
    expect(out.batch).toBe(batch.input_ids.length);
    expect(out.length).toBe(batch.input_ids[0].length);
    expect(Array.from(out.input_ids)).toEqual(batch.input_ids.flat());
    expect(Array.from(out.attention_mask)).toEqual(batch.attention_mask.flat());
    expect(Array.from(out.token_type_ids)).toEqual(batch.token_type_ids.flat());
    const truncatedInFixture = batch.attention_mask.filter((r) => r.every((m) => m === 1)).length;
    console.log(`[tokenize ${name}] ${out.batch}×${out.length}, documents truncated: ${out.truncatedDocuments} (fixture rows at max_length: ${truncatedInFixture})`);
    expect(out.truncatedQueries).toBe(0);
  });

  it('pads to the longest row only (no padding to max_length)', () => {
    const out = tok.encodePairs(batch.queries.slice(-2), batch.documents.slice(-2), { maxLength: 512 });
    const rowLen = (b: number) => out.attention_mask.subarray(b * out.length, (b + 1) * out.length).reduce((a, x) => a + x, 0);
    expect(out.length).toBe(Math.max(rowLen(0), rowLen(1)));
    expect(out.truncatedDocuments).toBe(0);
  });

  it('cuts a query that alone exceeds the budget instead of failing, and counts it', () => {
    const longQuery = batch.queries[0].repeat(10);
    const out = tok.encodePairs([longQuery], [batch.documents[0]], { maxLength: 24 });
    expect(out.length).toBe(24);
    expect(out.truncatedQueries).toBe(1);
    // The document still contributes tokens after the query's half of the budget.
    const ids = Array.from(out.input_ids);
    expect(ids.filter((x) => x === tok.padId).length).toBe(0);
  });

  it('a very long document (cut before tokenising, to bound the work) gives the same ids as the full text', () => {
    const doc = batch.documents[0].repeat(60);
    const out = tok.encodePairs([batch.queries[0]], [doc], { maxLength: 40 });
    const q = tok.tokenizer.encode(batch.queries[0], { add_special_tokens: false }).ids;
    const d = tok.tokenizer.encode(doc, { add_special_tokens: false }).ids;
    const expectedDoc = d.slice(0, 40 - tok.specialCount - q.length);
    expect(out.length).toBe(40);
    // The document's tokens sit right before the final special token.
    expect(Array.from(out.input_ids).slice(40 - 1 - expectedDoc.length, 39)).toEqual(expectedDoc);
    expect(expectedDoc.length).toBeGreaterThan(0);
  });

  it("caps the query at queryMaxLength tokens before pair truncation (FlagEmbedding's query_max_len)", () => {
    const query = batch.queries[0].repeat(4);
    const doc = batch.documents[0].repeat(20);
    const q = tok.tokenizer.encode(query, { add_special_tokens: false }).ids;
    const d = tok.tokenizer.encode(doc, { add_special_tokens: false }).ids;
    const cap = 5;
    expect(q.length).toBeGreaterThan(cap);
    const out = tok.encodePairs([query], [doc], { maxLength: 48, queryMaxLength: cap });
    const uncapped = tok.encodePairs([query], [doc], { maxLength: 48 });
    const ids = Array.from(out.input_ids);
    // the query's first `cap` tokens, then the document fills the rest of max_length
    const qAt = ids.indexOf(q[0]);
    expect(ids.slice(qAt, qAt + cap)).toEqual(q.slice(0, cap));
    expect(ids.slice(48 - 1 - (48 - tok.specialCount - cap), 47)).toEqual(d.slice(0, 48 - tok.specialCount - cap));
    expect(out.length).toBe(48);
    expect(out.truncatedQueries).toBe(0); // asked for, not an overflow
    expect(ids).not.toEqual(Array.from(uncapped.input_ids));
    // a query already shorter than the cap is untouched
    const short = tok.encodePairs([batch.queries[1]], [batch.documents[1]], { maxLength: 64, queryMaxLength: 1000 });
    expect(Array.from(short.input_ids)).toEqual(Array.from(tok.encodePairs([batch.queries[1]], [batch.documents[1]], { maxLength: 64 }).input_ids));
  });

  it('rejects mismatched or empty batches with a clear error', () => {
    expect(() => tok.encodePairs(['a'], [], { maxLength: 16 })).toThrow(TokenizerError);
    expect(() => tok.encodePairs([], [], { maxLength: 16 })).toThrow(/empty batch/);
    expect(() => tok.encodePairs(['a'], ['b'], { maxLength: 3 })).toThrow(/max_length 3/);
  });
});

describe('post-processor templates', () => {
  it('builds the RoBERTa pair template <s> A </s></s> B </s> and BERT [CLS] A [SEP] B [SEP]', async () => {
    const { pairTemplate } = await import('../../../src/model/tokenize.ts');
    const rob = pairTemplate({ type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0] }, () => undefined);
    expect(rob.map((p) => ('special' in p ? p.special : p.seq))).toEqual([[0], 'A', [2, 2], 'B', [2]]);
    expect(rob.every((p) => p.typeId === 0)).toBe(true);
    const bert = pairTemplate({ type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] }, () => undefined);
    expect(bert.map((p) => p.typeId)).toEqual([0, 0, 0, 1, 1]);
    expect(() => pairTemplate({ type: 'ByteLevel' }, () => undefined)).toThrow(/not supported/);
  });
});
