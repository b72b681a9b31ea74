// Raw logits of (query, document) pairs from our engine on WebGPU: the minimum the experiment needs until issue 11's
// `rerank-lab score --model DIR --pairs FILE` lands in main (then run.ts calls that command instead, and this goes).
// Pairs are truncated as in training (document first) to maxLength; batches of `batch` pairs.

import type { GpuRuntime } from '../../src/gpu/runtime.ts';
import { loadHfFolder, readFolderNode } from '../../src/model/hf-folder.ts';
import { GpuModel } from '../../src/train/gpu-model.ts';

export async function engineLogits(
  rt: GpuRuntime,
  modelDir: string,
  pairs: readonly { query: string; document: string }[],
  o: { maxLength: number; batch: number; onBatch?: (done: number, total: number) => void },
): Promise<number[]> {
  const model = await loadHfFolder(await readFolderNode(modelDir));
  const gm = await GpuModel.create(rt, model.config, model.params);
  const out: number[] = [];
  // Sorted by length so a batch pads little; results go back to input order.
  const order = pairs.map((_, i) => i).sort((a, b) => pairs[a].query.length + pairs[a].document.length - pairs[b].query.length - pairs[b].document.length);
  const logits = new Array<number>(pairs.length);
  for (let i = 0; i < order.length; i += o.batch) {
    const idx = order.slice(i, i + o.batch);
    const batch = model.tokenizer.encodePairs(idx.map((j) => pairs[j].query), idx.map((j) => pairs[j].document), { maxLength: o.maxLength });
    const l = await gm.score(batch);
    idx.forEach((j, k) => (logits[j] = l[k]));
    o.onBatch?.(Math.min(i + o.batch, order.length), order.length);
  }
  gm.release();
  out.push(...logits);
  return out;
}
