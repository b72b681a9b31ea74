// Tiny model folders for the reliability tests, with a tensor changed on purpose.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileMap, writeFolderNode } from '../../../../src/model/hf-folder.ts';
import { readSafetensors, writeSafetensors } from '../../../../src/model/safetensors.ts';
import { buildTinyModel } from '../../../../src/model/tiny.ts';

export const CORPUS = ['燃气管理条例规定', '户籍办理需要身份证', '图书馆开放时间', '垃圾分类投放'];

export function tinyFiles(): FileMap {
  return buildTinyModel({ corpus: CORPUS, hidden: 8, heads: 2, layers: 1, intermediate: 16, maxPositions: 32, seed: 3 });
}

/** The tiny model with `name`'s value at `index` set to `value` (NaN, Infinity …). */
export function tinyWith(name: string, index: number, value: number): FileMap {
  const files = tinyFiles();
  const r = readSafetensors(files.get('model.safetensors')!);
  const t = r.tensors.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  t.data[index] = value;
  files.set('model.safetensors', writeSafetensors(new Map([...r.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }])), { metadata: { format: 'pt' } }));
  return files;
}

export async function folderOf(files: FileMap): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-model-'));
  await writeFolderNode(dir, files);
  return dir;
}
