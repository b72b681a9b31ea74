// Binary test documents made at test time (no binary fixtures in git): a minimal Word document and a one-page PDF,
// plus a web page with a site menu and footer, for the end-to-end tests that drop a second folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';

/** A minimal Word document: the three parts Word needs, zipped. */
export function makeDocx(paragraphs: string[]): Uint8Array {
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

/** A one-page PDF with a Helvetica text line (ASCII), xref offsets computed. */
export function makePdf(line: string): Uint8Array {
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

const page = (title: string, body: string) => `<!doctype html><html><head><title>${title}</title></head><body>
<header><a href="/">首页</a> | <a href="/services">办事服务</a> | <a href="/about">关于我们</a></header>
<nav><ul><li>政务公开</li><li>政策解读</li><li>互动交流</li></ul></nav>
<article><h1>${title}</h1><p>${body}</p></article>
<footer>版权所有 © 2024 某市人民政府办公厅 主办 | 网站标识码 1234567890</footer>
</body></html>`;

/** A second folder of documents: Word, PDF, two web pages with site chrome, Markdown. Returns its path. */
export function writeSecondFolder(root: string): string {
  const dir = join(root, '新增文档');
  mkdirSync(join(dir, 'site'), { recursive: true });
  writeFileSync(join(dir, '公积金提取.docx'), makeDocx(['住房公积金提取须提供身份证和购房合同。', '提取申请在十个工作日内办结，到账后短信通知。', '离职提取需要先办理封存手续，封存满六个月后方可申请。']));
  writeFileSync(join(dir, 'parking.pdf'), makePdf('Parking permits for residents are renewed every year at the district office.'));
  writeFileSync(join(dir, 'site', '医保报销.html'), page('医保报销', '门诊费用在定点医院直接结算，住院费用按比例报销，起付线以上部分由统筹基金支付。异地就医需要先备案。'));
  writeFileSync(join(dir, 'site', '居住证.html'), page('居住证办理', '居住证申领需要在居住地连续居住半年以上，并提供合法稳定住所证明。办理时间为二十个工作日。'));
  writeFileSync(join(dir, 'site', '出入境.html'), page('出入境证件', '护照申请可以在全市任一出入境接待大厅办理，七个工作日内出证，可以选择邮寄送达。'));
  writeFileSync(join(dir, '说明.md'), '# 新增材料说明\n\n**注意**：以下材料为*补充*内容，请参阅[政策原文](https://example.gov/policy)。\n\n- 材料一：公积金\n- 材料二：医保\n');
  return dir;
}
