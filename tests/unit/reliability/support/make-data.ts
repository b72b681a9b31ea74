// Small Chinese chunks / pairs files for the command-line tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TOPICS = ['燃气', '户籍', '图书馆', '垃圾分类', '社保', '公积金', '交通', '供水', '医保', '养老'];

export function chunkTexts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${TOPICS[i % TOPICS.length]}管理办法第${i + 1}条：办理${TOPICS[i % TOPICS.length]}业务需要携带身份证和申请表，窗口工作时间为上午九点到下午五点。`);
}

/** chunks.jsonl (n chunks, ids c0…) and pairs.jsonl importing one query per chunk by id; returns their paths. */
export function writeChunksAndPairs(dir: string, n: number): { chunks: string; pairs: string } {
  const chunks = join(dir, 'chunks.jsonl');
  const pairs = join(dir, 'pairs.jsonl');
  writeFileSync(chunks, chunkTexts(n).map((text, i) => JSON.stringify({ id: `c${i}`, text, source: `doc${i % 7}.txt`, start: 0, end: text.length })).join('\n') + '\n');
  writeFileSync(pairs, Array.from({ length: n }, (_, i) => JSON.stringify({ query: `第${i + 1}条${TOPICS[i % TOPICS.length]}业务要带什么材料？`, chunk_id: `c${i}` })).join('\n') + '\n');
  return { chunks, pairs };
}
