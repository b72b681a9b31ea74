// Issue 10, item 10: JSON Lines readers detect the encoding (BOM, UTF-16 with or without one, GBK) or refuse the
// lines they cannot read, by number — GBK lines became U+FFFD in `mine` and `train`, UTF-16 "not valid JSON"; an
// empty query or `pos: [""]` is refused with a count; and `mine --model` (like `train` and the page, see
// non-finite.test.ts) says how many pairs max length will cut — `--max-length 8` cut every pair without a word.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as mineCommand } from '../../../src/cli/commands/mine.ts';
import { run as trainCommand } from '../../../src/cli/commands/train.ts';
import { checkExample, checkQuery, decodeJsonl, parseJsonl } from '../../../src/data/jsonl.ts';
import { loadHfFolder, writeFolderNode } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { countPairTruncation } from '../../../src/train/truncation.ts';
import { capture } from './support/capture.ts';
import { gbk } from './support/gbk.ts';
import { chunkTexts, TOPICS } from './support/make-data.ts';

afterEach(() => vi.restoreAllMocks());

const lines = (objs: unknown[]) => objs.map((o) => JSON.stringify(o)).join('\n') + '\n';
const utf16 = (s: string, be = false) => {
  const b = Buffer.from(s, 'utf16le');
  if (be) b.swap16();
  return new Uint8Array(b);
};
const fresh = () => mkdtempSync(join(tmpdir(), 'rl-jsonl-'));

describe('encoding detection', () => {
  const text = lines([{ query: '燃气设施改动要做什么？', pos: ['城镇燃气管理条例规定'], neg: ['户籍办理需要身份证'] }]);
  const want = JSON.parse(text).query;

  for (const [name, bytes, enc] of [
    ['UTF-8', new TextEncoder().encode(text), 'utf-8'],
    ['UTF-8 with a BOM', new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]), 'utf-8-bom'],
    ['UTF-16 LE with a BOM', new Uint8Array([0xff, 0xfe, ...utf16(text)]), 'utf-16le'],
    ['UTF-16 LE without one', utf16(text), 'utf-16le'],
    ['UTF-16 BE without one', utf16(text, true), 'utf-16be'],
    ['GBK', gbk(text), 'gb18030'],
  ] as const) {
    it(`reads ${name}`, () => {
      const d = decodeJsonl(bytes);
      expect(d.encoding).toBe(enc);
      const r = parseJsonl(d, checkExample);
      expect(r.errors).toEqual([]);
      expect(r.items[0].query).toBe(want);
    });
  }

  it('refuses, by number, the GBK lines of a UTF-8 file (never U+FFFD)', () => {
    const good = new TextEncoder().encode(lines([{ query: '图书馆几点开门？', chunk_id: 'c1' }]));
    const bad = gbk(lines([{ query: '户籍怎么办理？', chunk_id: 'c2' }]));
    const r = parseJsonl(decodeJsonl(new Uint8Array([...good, ...bad, ...good])), checkQuery);
    expect(r.items.map((q) => q.query)).toEqual(['图书馆几点开门？', '图书馆几点开门？']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].line).toBe(2);
    expect(r.errors[0].message).toMatch(/not valid UTF-8 \(byte 10: .*GBK\? the rest of the file is UTF-8\): re-save the file as UTF-8/);
    expect(JSON.stringify(r.items)).not.toContain('\ufffd');
  });

  it('`mine` reads GBK chunks and UTF-16 queries into a clean training set', async () => {
    const dir = fresh();
    const texts = chunkTexts(20);
    writeFileSync(join(dir, 'chunks.jsonl'), gbk(lines(texts.map((text, i) => ({ id: `c${i}`, text, source: `d${i % 5}.txt`, start: 0, end: text.length })))));
    writeFileSync(join(dir, 'queries.jsonl'), new Uint8Array([0xff, 0xfe, ...utf16(lines(texts.map((_, i) => ({ query: `${TOPICS[i % TOPICS.length]}业务第${i + 1}条要带什么？`, chunk_id: `c${i}` }))))]));
    const c = capture();
    const code = await mineCommand(['--chunks', join(dir, 'chunks.jsonl'), '--queries', join(dir, 'queries.jsonl'), '--out', join(dir, 'train.jsonl'), '--negatives', '3']);
    vi.restoreAllMocks();
    expect(code, c.text()).toBe(0);
    expect(c.text()).toMatch(/chunks\.jsonl: read as GB18030 \(GBK\)/);
    expect(c.text()).toMatch(/queries\.jsonl: read as UTF-16LE/);
    const out = readFileSync(join(dir, 'train.jsonl'), 'utf8');
    expect(out).not.toContain('\ufffd');
    expect(out).toContain('燃气管理办法第1条');
  });
});

describe('empty texts', () => {
  it('an empty query, positive or negative is refused with its line, and counted', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 't.jsonl'), lines([{ query: ' ', pos: ['p'], neg: ['n'] }, { query: 'q', pos: [''], neg: ['n'] }, { query: 'q', pos: ['p'], neg: ['n', ''] }]));
    const c = capture();
    expect(await trainCommand(['--tiny', '--data', join(dir, 't.jsonl'), '--out', join(dir, 'out')])).toBe(2);
    vi.restoreAllMocks();
    expect(c.text()).toMatch(/t\.jsonl:1: skipped: field "query" is empty/);
    expect(c.text()).toMatch(/t\.jsonl:2: skipped: field "pos" holds an empty text \(pos\[0\]\)/);
    expect(c.text()).toMatch(/t\.jsonl:3: skipped: field "neg" holds an empty text \(neg\[1\]\)/);
    expect(c.text()).toMatch(/has no valid example \(3 bad line\(s\)\)/);
    expect(checkQuery({ query: '', chunk_id: 'c' })).toBe('field "query" is empty');
  });
});

describe('truncation counts', () => {
  const corpus = chunkTexts(10);

  it('`mine --model … --max-length 8` says that every mined pair is cut', async () => {
    const dir = fresh();
    const texts = chunkTexts(12);
    writeFileSync(join(dir, 'chunks.jsonl'), lines(texts.map((text, i) => ({ id: `c${i}`, text, source: `d${i % 4}.txt`, start: 0, end: text.length }))));
    writeFileSync(join(dir, 'queries.jsonl'), lines(texts.map((_, i) => ({ query: `第${i + 1}条要带什么？`, chunk_id: `c${i}` }))));
    await writeFolderNode(join(dir, 'model'), buildTinyModel({ corpus: [...corpus, '要带什么？'], hidden: 8, heads: 2, layers: 1, maxPositions: 512, seed: 1 }));
    const args = ['--chunks', join(dir, 'chunks.jsonl'), '--queries', join(dir, 'queries.jsonl'), '--out', join(dir, 'train.jsonl'), '--negatives', '2', '--model', join(dir, 'model')];
    let c = capture();
    expect(await mineCommand([...args, '--max-length', '8'])).toBe(0);
    vi.restoreAllMocks();
    expect(c.text()).toMatch(/Truncation \(.*model\): max length 8 cut the document of 36 of 36 mined pairs \(100%\)/);
    c = capture();
    expect(await mineCommand([...args, '--max-length', '512'])).toBe(0);
    vi.restoreAllMocks();
    expect(c.text()).toMatch(/max length 512 cuts none of the 36 mined pairs/);
  });

  it('counts exactly what pair tokenisation cuts', async () => {
    const model = await loadHfFolder(buildTinyModel({ corpus, hidden: 8, heads: 2, layers: 1, maxPositions: 128, seed: 1 }));
    const examples = corpus.slice(0, 5).map((t, i) => ({ query: t.slice(0, 4 + i * 6), pos: [t], neg: [corpus[(i + 1) % 10].slice(0, 10 + i * 9)] }));
    // at the boundaries: the max length that holds a pair exactly, and one token less
    const one = examples[2];
    const fits = model.tokenizer.encodeText(one.query).length + model.tokenizer.encodeText(one.pos[0]).length + model.tokenizer.specialCount;
    expect(countPairTruncation(model.tokenizer, [{ ...one, neg: [] }], fits).documents).toBe(0);
    expect(countPairTruncation(model.tokenizer, [{ ...one, neg: [] }], fits - 1).documents).toBe(1);
    for (const maxLength of [8, 20, 40, 128, fits - 1, fits]) {
      const pairs = examples.flatMap((e) => [...e.pos, ...e.neg].map((d) => [e.query, d] as const));
      const b = model.tokenizer.encodePairs(pairs.map((p) => p[0]), pairs.map((p) => p[1]), { maxLength });
      expect(countPairTruncation(model.tokenizer, examples, maxLength)).toEqual({ pairs: pairs.length, documents: b.truncatedDocuments, queries: b.truncatedQueries });
    }
  });
});
