// `rerank-lab ingest <dir> --out chunks.jsonl`: documents in, chunks out, with a per-file report.

import { chunkDocuments } from '../../data/chunk.ts';
import { openExtractThread } from '../../data/extract-pool-node.ts';
import { ingest } from '../../data/ingest.ts';
import { walkFolder } from '../../data/source-node.ts';
import { jsonlPieces, writeFileAtomic } from '../../util/atomic-file.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'ingest',
  usage: '<folder> --out chunks.jsonl [options]',
  positionals: true,
  about: `Reads every .txt .md .html .json .jsonl .csv .docx .pdf under <folder> (GBK/GB18030, UTF-16 and UTF-8 detected),
skips binary, empty and duplicate files, unreadable folders, links to folders and FIFOs (each with a reason;
.docx/.pdf are extracted in a memory-limited thread, so one bad file fails alone) and writes chunks as JSON Lines:
{"id","text","source","start","end"}.`,
  options: {
    out: { value: 'FILE', help: 'chunks file to write (required)' },
    'chunk-size': { kind: 'number', default: 300, help: 'characters per chunk' },
    overlap: { kind: 'number', default: 50, help: 'characters repeated between neighbouring chunks, aligned to sentences' },
    'json-field': { value: 'F', default: 'text', help: 'field with the text in .json/.jsonl records, dotted paths allowed' },
    'csv-column': { value: 'C', defaultText: 'text', help: 'column with the text in .csv files, header name or 0-based index' },
    'unknown-as-text': { kind: 'flag', help: 'read files with other extensions as text when they do not look binary' },
    report: { value: 'FILE', help: 'also write the per-file report as JSON' },
  },
});

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const dir = positionals[0];
  if (!dir || !values.out) {
    console.error(`ingest needs a folder and --out.\n\n${helpText(command)}`);
    return 2;
  }
  const size = values['chunk-size'];
  const overlap = values.overlap;
  if (!(size > 0) || !(overlap >= 0)) {
    console.error('--chunk-size must be a positive number and --overlap zero or more.');
    return 2;
  }
  const csv = values['csv-column'];
  const ac = abortOnSigint();
  const bar = createProgressBar();
  const sources = await walkFolder(dir);
  if (!sources.length) {
    console.error(`No files under '${dir}'.`);
    return 1;
  }
  const extractor = openExtractThread();
  const { docs, report } = await ingest(sources, {
    jsonField: values['json-field'],
    csvColumn: csv === undefined ? undefined : /^\d+$/.test(csv) ? Number(csv) : csv,
    unknownAsText: values['unknown-as-text'],
    extractBinary: extractor.extract,
    onProgress: bar.onProgress,
    signal: ac.signal,
  }).finally(() => extractor.close());
  const chunks = chunkDocuments(docs, { size, overlap, onProgress: bar.onProgress, signal: ac.signal });
  bar.stop();
  await writeFileAtomic(values.out, jsonlPieces(chunks));
  if (values.report) await writeFileAtomic(values.report, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nFiles: ${report.files.length} (${report.ok} read, ${report.skipped} skipped, ${report.failed} failed)`);
  for (const f of report.files) if (f.status !== 'ok') console.log(`  ${f.status.padEnd(7)} ${f.path}: ${f.reason}`);
  for (const f of report.files) if (f.status === 'ok' && f.reason) console.log(`  note    ${f.path}: ${f.reason}`);
  const enc: Record<string, number> = {};
  for (const d of docs) if (d.encoding) enc[d.encoding] = (enc[d.encoding] ?? 0) + 1;
  console.log(`Documents: ${docs.length}, ${report.chars.toLocaleString('en-US')} characters; encodings: ${JSON.stringify(enc)}`);
  console.log(`Chunks: ${chunks.length} (size ${size}, overlap ${overlap}) → ${values.out}`);
  return chunks.length ? 0 : 1;
}
