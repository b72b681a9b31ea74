import { describe, expect, it } from 'vitest';
import { dropRepeatedLines, dropRunningLines, markdownToText } from '../../../src/data/boilerplate.ts';
import { htmlToText } from '../../../src/data/extract.ts';
import { ingest } from '../../../src/data/ingest.ts';
import { fromBytes } from '../../../src/data/source.ts';

// Issue 8 item 10: HTML menus/footers and Markdown marks stayed in chunks.

const page = (body: string) => `<html><head><title>t</title></head><body>
<header><a href="/">首页</a> | <a href="/about">关于我们</a></header>
<nav><ul><li>政务公开</li><li>办事服务</li></ul></nav>
<article><header><h1>燃气设施管理</h1></header><p>${body}</p></article>
<aside>热点新闻：今天天气晴</aside>
<footer>版权所有 © 2024 某市人民政府 京ICP备000000号</footer></body></html>`;

describe('HTML', () => {
  it('drops nav, footer, aside and the page header, keeps the article and its heading', () => {
    const t = htmlToText(page('改动市政燃气设施须报批。'));
    expect(t).toContain('燃气设施管理');
    expect(t).toContain('改动市政燃气设施须报批。');
    for (const junk of ['首页', '关于我们', '政务公开', '热点新闻', '版权所有']) expect(t).not.toContain(junk);
  });
});

describe('Markdown', () => {
  it('loses its marks, keeps its words', () => {
    const md = [
      '# 燃气管理条例',
      '',
      '## 第一章 **总则**',
      '',
      '- 第一条：[燃气](https://example.com/gas) 安全 *重要*',
      '1. 第二条：`供气` 单位',
      '> 引用的说明',
      '',
      '| 项目 | 标准 |',
      '| --- | --- |',
      '| 压力 | 0.4 MPa |',
      '',
      '![示意图](fig.png)',
      '---',
      '```',
      'code stays',
      '```',
    ].join('\n');
    const t = markdownToText(md);
    expect(t).toBe(['燃气管理条例', '', '第一章 总则', '', '第一条：燃气 安全 重要', '第二条：供气 单位', '引用的说明', '', '项目\t标准', '压力\t0.4 MPa', '', '示意图', 'code stays'].join('\n'));
    expect(t).not.toMatch(/[#*`>[\]]/);
  });
});

describe('repeated lines', () => {
  it('lines most pages of a site repeat go; lines of one page stay', () => {
    const texts = ['首页 | 服务\n燃气须报批。\n版权所有', '首页 | 服务\n供水由水务局管理。\n版权所有', '首页 | 服务\n公交卡可退。\n版权所有', '别的网站\n图书馆开放。'];
    const removed = dropRepeatedLines(texts);
    expect(removed).toEqual([2, 2, 2, 0]);
    expect(texts).toEqual(['燃气须报批。', '供水由水务局管理。', '公交卡可退。', '别的网站\n图书馆开放。']);
  });
  it("a PDF's running header repeated on every page goes", () => {
    const pdf = ['某市政府公报 2024年第3期', '第一条 燃气。', '', '某市政府公报 2024年第3期', '第二条 供水。', '', '某市政府公报 2024年第3期', '第三条 公交。'].join('\n');
    expect(dropRunningLines(pdf)).toEqual({ text: '第一条 燃气。\n\n第二条 供水。\n\n第三条 公交。', removed: 3 });
  });
  it('ingest applies both, and says so in the file report', async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const r = await ingest([
      fromBytes(enc(page('改动市政燃气设施须报批。')), 'site/a.html'),
      fromBytes(enc(page('供水设施由水务局管理。')), 'site/b.html'),
      fromBytes(enc(page('公交卡可以在服务网点退卡。')), 'site/c.html'),
      fromBytes(enc('# 标题\n\n**重点**：燃气\n\n共同的页脚行\n'), 'notes/x.md'),
    ]);
    // the article heading repeats on all three pages of this tiny site: it is boilerplate there too
    expect(r.docs.map((d) => d.text)).toEqual(['改动市政燃气设施须报批。', '供水设施由水务局管理。', '公交卡可以在服务网点退卡。', '标题\n\n重点：燃气\n\n共同的页脚行']);
    expect(r.report.files[0].reason).toBe('1 boilerplate line(s) repeated across pages removed');
    expect(r.report.files[3].reason).toBeUndefined();
    expect(r.report.chars).toBe(r.docs.reduce((s, d) => s + d.text.length, 0));
  });
});
