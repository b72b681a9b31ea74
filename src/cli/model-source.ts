// Where a command's --model comes from: a local folder, or (when no such folder exists and the value looks like
// owner/name) the Hugging Face hub, with HF_TOKEN and HF_ENDPOINT as huggingface_hub reads them.
import { existsSync } from 'node:fs';
import { type FileMap, type HfModel, loadHfFolder, readFolderNode } from '../model/hf-folder.ts';
import { fetchHubModel } from '../model/hub.ts';
import type { OnProgress } from '../util/progress.ts';

export async function modelFiles(spec: string, onProgress?: OnProgress): Promise<FileMap> {
  if (existsSync(spec) || !/^[\w.-]+\/[\w.-]+$/.test(spec)) return readFolderNode(spec);
  return fetchHubModel(spec, { token: process.env.HF_TOKEN, endpoint: process.env.HF_ENDPOINT, onProgress });
}

/** A model folder (or hub id) loaded for scoring, its notes printed to stderr as `label: note`. */
export async function loadModel(spec: string, label: string, onProgress?: OnProgress): Promise<HfModel> {
  const m = await loadHfFolder(await modelFiles(spec, onProgress), { onProgress });
  for (const n of m.notes) console.error(`${label}: ${n}`);
  if (m.newHead.length) console.error(`${label}: WARNING the classification head is new (random, seed 42): its scores mean nothing until it is trained`);
  return m;
}

/**
 * The token budget for scoring a pair: --max-length when given (it must fit the position table), else the folder's
 * tokenizer_config.json model_max_length (what the model was trained with, for a Rerank Lab export), else the
 * longest input the position table allows.
 */
export function scoringMaxLength(m: HfModel, requested?: number): number {
  const limit = m.config.maxSequenceLength;
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < m.tokenizer.specialCount + 2) throw new RangeError(`--max-length must be an integer of at least ${m.tokenizer.specialCount + 2}, got ${requested}`);
    if (requested > limit) throw new RangeError(`--max-length ${requested} is longer than this model's position table allows (${limit} tokens)`);
    return requested;
  }
  return Math.min(m.modelMaxLength ?? limit, limit);
}
