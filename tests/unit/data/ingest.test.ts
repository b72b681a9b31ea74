import { cpSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync, strToU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type IngestResult } from '../../../src/data/ingest.ts';
import { walkFolder } from '../../../src/data/source-node.ts';
import { decodeBytes } from '../../../src/data/decode.ts';
import { fromBytes } from '../../../src/data/source.ts';
import type { Progress } from '../../../src/util/progress.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/ingest', import.meta.url));
const ZH = '城镇燃气管理条例规定，改动市政燃气设施的，建设单位应当制定相应的安全保护方案。燃气经营企业应当建立健全安全评估体系！';

/** A minimal Word document: the three parts Word needs, zipped. */
function makeDocx(paragraphs: string[]): Uint8Array {
  const body = paragraphs.map((p) => `<w:p><w:r><w:t>${p}</w:t></w:r></w:p>`).join('');
  return zipSync({
    '[Content_Types].xml': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    ),
    '_rels/.rels': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    ),
    'word/document.xml': strToU8(
      `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
    ),
  });
}

/** A one-page PDF with a Helvetica text line, xref offsets computed. */
function makePdf(line: string): Uint8Array {
  const stream = `BT /F1 12 Tf 40 100 Td (${line}) Tj ET`;
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 800 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offs: number[] = [];
  objs.forEach((o, i) => {
    offs.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offs.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return strToU8(out);
}

let dir: string;
let result: IngestResult;
const BIG_BYTES = 50 * 1024 * 1024;
const events: Progress[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rerank-ingest-'));
  cpSync(FIXTURES, dir, { recursive: true });
  writeFileSync(join(dir, 'policy.docx'), makeDocx(['第一段：Word 文档里的文字。', '第二段：研发费用加计扣除。']));
  writeFileSync(join(dir, 'notice.pdf'), makePdf('Outdoor advertising permits expire after 12 months.'));
  writeFileSync(join(dir, 'broken.docx'), strToU8('PK\u0003\u0004 this is not really a zip'));
  // 50 MB of Chinese text (UTF-8, 3 bytes a character), written in pieces so the test never holds it twice
  const fd = openSync(join(dir, 'big.txt'), 'w');
  const line = Buffer.from(`${ZH}\n`);
  const block = Buffer.concat(Array.from({ length: 1000 }, (_, i) => Buffer.concat([Buffer.from(`${i}:`), line])));
  let written = 0;
  while (written < BIG_BYTES) written += writeSync(fd, block);
  closeSync(fd);
  const sources = await walkFolder(dir);
  result = await ingest(sources, { jsonField: 'body.text', onProgress: (p) => events.push(p) });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (path: string) => result.report.files.find((f) => f.path === path)!;
const doc = (source: string) => result.docs.find((d) => d.source === source);

describe('ingest', () => {
  it('decodes GBK, GB18030, UTF-16 with BOM and UTF-8 with BOM without U+FFFD', () => {
    expect(file('gbk.txt').encoding).toBe('gb18030');
    expect(doc('gbk.txt')!.text).toBe(`GBK 编码文件：${ZH}`);
    expect(doc('gb18030.txt')!.text).toBe(`GB18030 文件含扩展字：䶮𠀀。${ZH}`);
    expect(file('utf16le-bom.txt').encoding).toBe('utf-16le');
    expect(doc('utf16le-bom.txt')!.text).toBe(`UTF-16LE 文件：${ZH}`);
    expect(doc('utf16be-bom.txt')!.text).toBe(`UTF-16BE 文件：${ZH}`);
    expect(file('utf8-bom.txt').encoding).toBe('utf-8-bom');
    expect(doc('utf8-bom.txt')!.text).toBe(`UTF-8 BOM 文件：${ZH}`);
    for (const d of result.docs) expect(d.text).not.toContain('\ufffd');
  });

  it('skips the renamed PNG, the empty file, the duplicate and unknown extensions, each with a reason', () => {
    expect(file('photo.txt')).toMatchObject({ status: 'skipped', reason: 'binary file (PNG image)' });
    expect(file('empty.txt')).toMatchObject({ status: 'skipped', reason: 'empty file' });
    expect(file('sub/dup-b.txt')).toMatchObject({ status: 'skipped', reason: 'duplicate of dup-a.md' });
    expect(file('dup-a.md').status).toBe('ok');
    expect(file('notes.xyz').status).toBe('skipped');
    expect(file('notes.xyz').reason).toMatch(/unsupported extension/);
  });

  it('one broken file fails alone with a readable reason', () => {
    expect(file('broken.docx').status).toBe('failed');
    expect(file('broken.docx').reason).toMatch(/could not read/);
    expect(result.report.failed).toBe(1);
    expect(doc('policy.docx')).toBeDefined();
  });

  it('extracts docx (mammoth), pdf (pdfjs), html, json, jsonl and csv', () => {
    expect(doc('policy.docx')!.text).toContain('第二段：研发费用加计扣除。');
    expect(doc('notice.pdf')!.text).toContain('Outdoor advertising permits expire after 12 months.');
    const html = doc('page.html')!.text;
    expect(html).toContain('设置户外广告&招牌应当经城市管理部门同意。');
    expect(html).toContain('《条例》');
    expect(html).not.toContain('不要');
    expect(doc('records.jsonl#L1')!.text).toBe('第一条记录：失业保险金的领取条件。');
    expect(doc('records.jsonl#L2')).toBeDefined();
    expect(file('records.jsonl').reason).toMatch(/line 3: not valid JSON/);
    expect(doc('table.csv#2')!.text).toBe('CSV 第一行，含逗号和"引号"。');
    expect(doc('table.csv#3')!.text).toBe('CSV 第二行\n跨两行。');
  });

  it('reads the 50 MB file in pieces with byte-based progress', () => {
    const big = doc('big.txt')!;
    expect(file('big.txt').bytes).toBeGreaterThanOrEqual(BIG_BYTES);
    expect(big.text.length).toBeGreaterThan(BIG_BYTES / 3 - 100_000);
    expect(big.text.startsWith(`0:${ZH}\n1:`)).toBe(true);
    expect(big.text).not.toContain('\ufffd');
    const last = events[events.length - 1];
    expect(last.done).toBe(last.total);
    expect(events.some((e) => e.detail === 'big.txt')).toBe(true);
  });

  it('falls back to lossy UTF-8 only when no encoding fits, and says so', async () => {
    const bad = new Uint8Array([0xe4, 0xb8, 0xad, 0xff, 0xff, 0x41]);
    expect(decodeBytes(bad).lossy).toBe(true);
    const r = await ingest([fromBytes(bad, 'bad.txt')]);
    expect(r.report.files[0].reason).toMatch(/U\+FFFD/);
  });

  it('honours cancellation', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(ingest([fromBytes('x', 'a.txt')], { signal: ac.signal })).rejects.toThrow(/Cancel|abort/i);
  });
});
