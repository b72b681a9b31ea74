// Issue 10, item 8: one bad file never stops `ingest`, and nothing found is dropped without a word. A file name in
// GBK bytes (archives unzipped on Linux) is read and reported; an unreadable folder, a link to a folder, a broken
// link and a FIFO each appear in the report; a .docx that inflates to 100 MB of XML is refused before extraction
// (it took the process to 4.4 GB and down); and extraction runs in a thread whose running out of memory fails that
// file alone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as ingestCommand } from '../../../src/cli/commands/ingest.ts';
import { openExtractThread } from '../../../src/data/extract-pool-node.ts';
import { ingest } from '../../../src/data/ingest.ts';
import { fromBytes } from '../../../src/data/source.ts';
import { walkFolder } from '../../../src/data/source-node.ts';
import { capture } from './support/capture.ts';

// An unreadable folder, even for root (the tests may run as root, whom chmod does not stop): readdir of a folder
// named 'locked' fails with EACCES.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const readdir = (async (p: Parameters<typeof fs.readdir>[0], o?: unknown) => {
    if (String(p).endsWith('/locked')) throw Object.assign(new Error(`EACCES: permission denied, scandir '${String(p)}'`), { code: 'EACCES' });
    return fs.readdir(p, o as never);
  }) as typeof fs.readdir;
  return { ...fs, default: { ...fs, readdir }, readdir };
});

afterEach(() => vi.restoreAllMocks());

const TEXT = '城镇燃气管理条例规定，改动市政燃气设施的，建设单位应当制定相应的安全保护方案。';
const GBK_NAME = Buffer.from([0xd5, 0xfe, 0xb2, 0xdf]); // 政策 in GBK

function docx(xmlBody: string): Uint8Array {
  return zipSync({
    '[Content_Types].xml': strToU8('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'),
    '_rels/.rels': strToU8('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
    'word/document.xml': strToU8(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${xmlBody}</w:body></w:document>`),
  }, { level: 9 });
}

/** A .docx whose document.xml inflates to ~40 MB (over the 32 MB limit), its headers lying that it is 1 KB. */
function docxBomb(): Uint8Array {
  const z = docx('<w:p><w:r><w:t>a</w:t></w:r></w:p>'.repeat(1_200_000));
  const dv = new DataView(z.buffer, z.byteOffset, z.byteLength);
  for (let i = 0; i + 4 <= z.length; i++) {
    const sig = dv.getUint32(i, true);
    const name = (at: number, len: number) => new TextDecoder().decode(z.subarray(at, at + len));
    if (sig === 0x04034b50 && name(i + 30, dv.getUint16(i + 26, true)) === 'word/document.xml') dv.setUint32(i + 22, 1024, true);
    if (sig === 0x02014b50 && name(i + 46, dv.getUint16(i + 28, true)) === 'word/document.xml') dv.setUint32(i + 24, 1024, true);
  }
  return z;
}

function folder(): string {
  const root = mkdtempSync(join(tmpdir(), 'rl-ingest-'));
  writeFileSync(join(root, 'a.txt'), TEXT);
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), GBK_NAME, Buffer.from('.txt')]), TEXT.replace('燃气', '供水'));
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xff, 0x41]), Buffer.from('.txt')]), TEXT.replace('燃气', '供电'));
  mkdirSync(join(root, 'locked'));
  writeFileSync(join(root, 'locked', 'hidden-from-us.txt'), TEXT);
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'b.txt'), TEXT.replace('燃气', '户籍'));
  symlinkSync(join(root, 'sub'), join(root, 'link-to-sub'));
  symlinkSync(join(root, 'sub', 'b.txt'), join(root, 'link-to-b.txt'));
  symlinkSync(join(root, 'nowhere.txt'), join(root, 'broken.txt'));
  execFileSync('mkfifo', [join(root, 'pipe.txt')]);
  writeFileSync(join(root, 'bomb.docx'), docxBomb());
  writeFileSync(join(root, 'ok.docx'), docx('<w:p><w:r><w:t>研发费用加计扣除申报流程</w:t></w:r></w:p>'));
  return root;
}

describe('ingest of a folder with troublesome entries', () => {
  it('reads what it can and reports every other entry by name, with why', async () => {
    const root = folder();
    const sources = await walkFolder(root);
    const thread = openExtractThread();
    const { docs, report } = await ingest(sources, { extractBinary: thread.extract }).finally(() => thread.close());
    const by = new Map(report.files.map((f) => [f.path, f]));
    console.log(report.files.map((f) => `${f.status.padEnd(7)} ${f.path}: ${f.reason ?? ''}`).join('\n'));
    expect(by.get('政策.txt')).toMatchObject({ status: 'ok', reason: expect.stringMatching(/name is not UTF-8; shown decoded as GBK/) });
    expect(by.get('\\xffA.txt')).toMatchObject({ status: 'ok', reason: expect.stringMatching(/in no known encoding/) });
    expect(by.get('locked/')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/cannot read this folder: permission denied \(EACCES\)/) });
    expect(by.get('link-to-sub')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/symbolic link to a folder: not followed/) });
    expect(by.get('link-to-b.txt')).toMatchObject({ status: 'ok', reason: 'read through a symbolic link' });
    expect(by.get('broken.txt')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/broken symbolic link/) });
    expect(by.get('pipe.txt')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/a FIFO \(named pipe\): not a document/) });
    expect(by.get('bomb.docx')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/part word\/document\.xml inflates to more than 32 MB/) });
    expect(by.get('ok.docx')).toMatchObject({ status: 'ok' });
    // sub/b.txt comes after link-to-b.txt (name order) and is its duplicate
    expect(docs.map((d) => d.source).sort()).toEqual(['\\xffA.txt', 'a.txt', 'link-to-b.txt', 'ok.docx', '政策.txt'].sort());
    expect(by.get('sub/b.txt')).toMatchObject({ status: 'skipped', reason: 'duplicate of link-to-b.txt' });
    expect(docs.find((d) => d.source === '政策.txt')!.text).toContain('供水');
  });

  it('`rerank-lab ingest` finishes (exit 0) and prints each of them', async () => {
    const root = folder();
    const c = capture();
    const code = await ingestCommand([root, '--out', join(root, '..', `${root.split('/').pop()}-chunks.jsonl`)]);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    for (const p of ['locked/', 'link-to-sub', 'broken.txt', 'pipe.txt', 'bomb.docx']) expect(c.text()).toContain(p);
  });

  it('a docx bomb is refused in the page too (in-process extraction)', async () => {
    const { report } = await ingest([fromBytes(docxBomb(), 'bomb.docx')]);
    expect(report.files[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/inflates to more than 32 MB/) });
  });
});

describe('the extraction thread', () => {
  it('a file that exhausts its memory fails alone; the next file is extracted by a new thread', async () => {
    const t = openExtractThread({ entry: new URL('./support/greedy-thread.mjs', import.meta.url), maxMemoryMb: 32 });
    try {
      await expect(t.extract('docx', strToU8('Bomb'))).rejects.toThrow(/extraction ran out of memory \(over 32 MB\)/);
      expect(await t.extract('docx', strToU8('fine'))).toBe('extracted 4 bytes');
      const { report } = await ingest([fromBytes(strToU8('Bomb'), 'x/big.docx'), fromBytes(strToU8('good'), 'x/small.docx')], { extractBinary: t.extract });
      expect(report.files.map((f) => [f.path, f.status])).toEqual([['x/big.docx', 'failed'], ['x/small.docx', 'ok']]);
      expect(report.files[0].reason).toMatch(/could not read: extraction ran out of memory/);
    } finally {
      await t.close();
    }
  });
});
