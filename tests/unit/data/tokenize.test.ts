import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTokenizer, cleanTokens, makeTokenizer } from '../../../src/data/tokenize.ts';
import { initJiebaModule, type JiebaModule } from '../../../src/data/jieba.ts';

const fx = JSON.parse(readFileSync(new URL('../../fixtures/bm25-jieba.json', import.meta.url), 'utf8')) as {
  documents: string[];
  queries: string[];
  document_tokens: string[][];
  query_tokens: string[][];
};

describe('jieba-wasm tokenisation', () => {
  it('seed mode reproduces Python list(jieba.cut(text)) on the fixture except for known range splits', async () => {
    const tok = await createTokenizer('seed');
    const texts = [...fx.documents, ...fx.queries];
    const want = [...fx.document_tokens, ...fx.query_tokens];
    let same = 0;
    const diffs: string[] = [];
    texts.forEach((t, i) => {
      const got = tok.tokenize(t);
      if (JSON.stringify(got) === JSON.stringify(want[i])) same++;
      else diffs.push(t);
      expect(got.join('')).toBe(t); // verbatim: nothing dropped, not even line breaks
    });
    // The fixture notes 111 of 120 texts agree; the others hold digit ranges like 7-6 that jieba-rs keeps whole.
    expect(same).toBeGreaterThanOrEqual(111);
    for (const t of diffs) expect(t).toMatch(/\d[-－~～]\d|\d\.\d|[A-Za-z]/);
  });

  it('default mode drops whitespace, punctuation and stopwords, lowercases Latin, keeps numbers', async () => {
    const tok = await createTokenizer('default');
    const got = tok.tokenize('Outdoor advertising permits (2023年第7号公告) 的 改动市\n政燃气设\n施。');
    expect(got).toContain('outdoor');
    expect(got).toContain('2023');
    expect(got).not.toContain('的');
    expect(got).not.toContain('\n');
    expect(got).not.toContain('。');
    expect(got).not.toContain('(');
    expect(got.some((t) => /[A-Z]/.test(t))).toBe(false);
    expect(cleanTokens(['  ', '，', 'ABC', '12', '的'])).toEqual(['abc', '12']);
  });

  it("the web build (what a browser worker loads) initialises from wasm bytes and agrees with the node build", async () => {
    const web = (await import('jieba-wasm/web')) as unknown as JiebaModule;
    const wasm = readFileSync(new URL('../../../node_modules/jieba-wasm/pkg/web/jieba_rs_wasm_bg.wasm', import.meta.url));
    const jieba = await initJiebaModule(web, wasm);
    const node = await createTokenizer('seed');
    const webTok = makeTokenizer(jieba, 'seed');
    for (const t of fx.documents.slice(0, 20)) expect(webTok.tokenize(t)).toEqual(node.tokenize(t));
  });
});
