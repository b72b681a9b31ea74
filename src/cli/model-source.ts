// Where a command's --model comes from: a local folder, or (when no such folder exists and the value looks like
// owner/name) the Hugging Face hub, with HF_TOKEN and HF_ENDPOINT as huggingface_hub reads them.
import { existsSync } from 'node:fs';
import { type FileMap, readFolderNode } from '../model/hf-folder.ts';
import { fetchHubModel } from '../model/hub.ts';
import type { OnProgress } from '../util/progress.ts';

export async function modelFiles(spec: string, onProgress?: OnProgress): Promise<FileMap> {
  if (existsSync(spec) || !/^[\w.-]+\/[\w.-]+$/.test(spec)) return readFolderNode(spec);
  return fetchHubModel(spec, { token: process.env.HF_TOKEN, endpoint: process.env.HF_ENDPOINT, onProgress });
}
