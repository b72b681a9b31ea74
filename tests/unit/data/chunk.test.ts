import { describe, expect, it } from 'vitest';
import { chunkText, joinLineBreaks, sentenceSpans, chunkDocuments } from '../../../src/data/chunk.ts';

const OCR = '改动市\n政燃气设\n施的，建设单位应当制定相应的安全保护方案。燃气经营企业应当建立健全燃气安全评估体系！';

describe('chunking', () => {
  it('splits at Chinese and English sentence ends, not inside numbers or OCR line breaks', () => {
    const t = '第一句。第二句！Pi is 3.14 here. Next one? 第三句；“引号。”尾巴';
    const parts = sentenceSpans(t).map(([s, e]) => t.slice(s, e));
    expect(parts).toEqual(['第一句。', '第二句！', 'Pi is 3.14 here.', ' Next one?', ' 第三句；', '“引号。”', '尾巴']);
    expect(sentenceSpans(OCR).length).toBe(2);
  });

  it('joins OCR line breaks inside sentences but keeps paragraph and sentence-end breaks', () => {
    expect(joinLineBreaks(OCR)).toBe(OCR.replace(/\n/g, ''));
    expect(joinLineBreaks('第一段。\n第二段')).toBe('第一段。\n第二段');
    expect(joinLineBreaks('a para\n\nnext')).toBe('a para\n\nnext');
    expect(joinLineBreaks('broken English\nline')).toBe('broken English line');
  });

  it('keeps offsets into the original text while the chunk text is joined', () => {
    const doc = `前言。\n\n${OCR}`;
    const chunks = chunkText('a.txt', doc, { size: 1000 });
    expect(chunks).toHaveLength(1);
    const c = chunks[0];
    expect(doc.slice(c.start, c.end)).toBe(doc.trim());
    expect(c.text).toBe(joinLineBreaks(doc));
    expect(c.text).toContain('改动市政燃气设施');
  });

  it('respects size and a sentence-aligned overlap, covering the whole text', () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `这是第${i}个句子，内容用于测试分块。`);
    const doc = sentences.join('');
    const chunks = chunkText('b.txt', doc, { size: 100, overlap: 30 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.end - c.start).toBeLessThanOrEqual(100);
      expect(doc.slice(c.start, c.end)).toBe(c.text);
      expect('。'.includes(c.text[c.text.length - 1])).toBe(true);
    }
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i].start).toBeGreaterThan(chunks[i - 1].start);
      expect(chunks[i].start).toBeLessThan(chunks[i - 1].end); // overlapping
      expect(chunks[i - 1].end - chunks[i].start).toBeLessThanOrEqual(30);
    }
    expect(chunks[0].start).toBe(0);
    expect(chunks[chunks.length - 1].end).toBe(doc.length);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
    expect(chunkText('b.txt', doc, { size: 100, overlap: 0 }).every((c, i, a) => i === 0 || c.start >= a[i - 1].end)).toBe(true);
  });

  it('hard-splits a sentence longer than the size, and counts model tokens when asked', () => {
    const long = '甲'.repeat(250) + '。';
    const chunks = chunkText('c.txt', long, { size: 100, overlap: 0 });
    expect(chunks.map((c) => c.end - c.start)).toEqual([100, 100, 51]);
    const byTokens = chunkText('d.txt', 'one two three. four five six. seven eight nine.', {
      unit: 'tokens',
      size: 6,
      overlap: 0,
      countTokens: (s) => s.split(/\s+/).filter(Boolean).length,
    });
    expect(byTokens.map((c) => c.text)).toEqual(['one two three. four five six.', 'seven eight nine.']);
    expect(() => chunkText('e', 'x', { unit: 'tokens' })).toThrow(/countTokens/);
  });

  it('chunks many documents with progress', () => {
    const seen: number[] = [];
    const out = chunkDocuments([{ source: 'x', text: '一句话就够了。' }, { source: 'y', text: '另一句话也够了。' }], { onProgress: (p) => seen.push(p.done) });
    expect(out.map((c) => c.source)).toEqual(['x', 'y']);
    expect(seen[seen.length - 1]).toBe(2);
  });
});
