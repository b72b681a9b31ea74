// A model folder's pair tokenizer without its weights (mine --model counts truncation before any training; reading
// a 2 GB model.safetensors for that would be waste): config.json (pad id), tokenizer.json, tokenizer_config.json.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelConfig } from '../model/config.ts';
import { createPairTokenizer, type PairTokenizer } from '../model/tokenize.ts';
import { ioError } from '../util/atomic-file.ts';

export async function loadPairTokenizerNode(dir: string): Promise<PairTokenizer> {
  const read = async (name: string, optional = false): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (e) {
      if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(join(dir, name), e, 'read', name === 'tokenizer.json' ? 'the model folder needs tokenizer.json' : '');
    }
  };
  const config = parseModelConfig((await read('config.json'))!);
  return createPairTokenizer((await read('tokenizer.json'))!, await read('tokenizer_config.json', true), { padTokenId: config.padTokenId });
}
