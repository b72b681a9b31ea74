// htmlToText (htmlparser2) and parseCsv (papaparse) on the inputs the regex and hand-written versions got wrong or
// that pin down the rules the rest of the pipeline relies on (line breaks, tabs, what counts as site chrome).
import { describe, expect, it } from 'vitest';
import { csvDocs, htmlToText, parseCsv } from '../../../src/data/extract.ts';

describe('htmlToText', () => {
  it('decodes every HTML entity, with or without the semicolon, and numeric references as a browser does', () => {
    expect(htmlToText('<p>&emsp;&emsp;第一条&ldquo;燃气&rdquo;&copy;2024&yen;5&times;3</p>')).toBe('第一条“燃气”©2024¥5×3');
    expect(htmlToText('<p>A&amp B&nbsp;C &lt;tag&gt; &amp;lt;</p>')).toBe('A& B C <tag> &lt;');
    expect(htmlToText('<p>&#x300A;条例&#x300B;&#12298;&#0;&#128;</p>')).toBe('《条例》《\ufffd€');
  });

  it('reads a tag as a browser does: `>` inside an attribute, `<` before a digit in text', () => {
    expect(htmlToText('<p><a title="a>b" href="x">链接</a>正文</p>')).toBe('链接正文');
    expect(htmlToText('<p>价格<100元的商品</p><p>下一段</p>')).toBe('价格<100元的商品\n\n下一段');
  });

  it('drops nested site chrome whole, and the <head> even when it is never closed', () => {
    expect(htmlToText('<nav><div><nav>菜单</nav>漏网</div></nav><p>正文</p>')).toBe('正文');
    expect(htmlToText('<html><head><title>标题</title><body><p>正文</p></body></html>')).toBe('正文');
    expect(htmlToText('<script>var s="</div>";</script><!-- <p>注释</p> --><p>正文</p>')).toBe('正文');
  });

  it('keeps the text of a page wrapped in one <form> (ASP.NET WebForms), dropping only its controls', () => {
    const page = '<html><body><form id="form1" method="post"><input type="hidden" name="__VIEWSTATE" value="x"/><div>第一条 燃气设施不得擅自改动。</div><button>提交</button><select><option>全部</option></select><textarea>留言</textarea></form></body></html>';
    expect(htmlToText(page)).toBe('第一条 燃气设施不得擅自改动。');
  });

  it('keeps the line-break rules: blocks, <br>, table cells, implied closes add no break', () => {
    expect(htmlToText('<P>甲</P><DIV>乙</DIV>')).toBe('甲\n\n乙');
    expect(htmlToText('一<br>二<br/>三<BR />四')).toBe('一\n二\n三\n四');
    expect(htmlToText('<p>一<p>二<ul><li>甲<li>乙</ul>')).toBe('一\n二\n\n甲\n乙');
    expect(htmlToText('<table><tr><td>项目</td><td>标准</td></tr></table>')).toBe('项目 标准');
  });
});

describe('parseCsv', () => {
  it('reads RFC 4180 quoting: delimiters, doubled quotes and line breaks inside quotes; blank lines dropped', () => {
    const text = 'id,text\r\n1,"a, ""b""\r\nc"\r\n\r\n2,plain\r\n';
    expect(parseCsv(text)).toEqual({ rows: [['id', 'text'], ['1', 'a, "b"\r\nc'], ['2', 'plain']], problems: [] });
  });

  it('takes a tab-separated file when its first line has more tabs than commas', () => {
    expect(parseCsv('query\tpositive\n谁审批,挖路\t市政部门\n').rows).toEqual([['query', 'positive'], ['谁审批,挖路', '市政部门']]);
  });

  it('names malformed quoting in the problems instead of passing over it', () => {
    const r = csvDocs('id,text\n1,"unterminated\n2,b\n', 'text');
    expect(r.problems).toEqual(['row 2: Quoted field unterminated']);
  });
});
