// The engine's logits for the Python checks (check_onnx.py): for each model folder given, scores the ids of that
// folder's batch.json (the layout of tests/fixtures/hf-parity/*) on the WebGPU engine through Dawn and prints one
// JSON object {"adapter": str, "<folder>": [logit, …], …}. The ids are used as they are, so the Python side can
// feed onnxruntime exactly the same input.
//   npx tsx tests/python/engine_logits.ts DIR [DIR …]
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GpuRuntime } from '../../src/gpu/runtime.ts';
import { loadHfFolder, readFolderNode } from '../../src/model/hf-folder.ts';
import { GpuModel } from '../../src/train/gpu-model.ts';

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error('usage: npx tsx tests/python/engine_logits.ts MODEL_DIR [MODEL_DIR …] (each with a batch.json)');
  process.exit(2);
}
const rt = await GpuRuntime.create();
const out: Record<string, unknown> = { adapter: rt.info.name };
try {
  for (const dir of dirs) {
    const model = await loadHfFolder(await readFolderNode(dir));
    const b = JSON.parse(await readFile(join(dir, 'batch.json'), 'utf8')) as Record<'input_ids' | 'attention_mask' | 'token_type_ids', number[][]>;
    const flat = (k: keyof typeof b) => Int32Array.from(b[k].flat());
    const gm = await GpuModel.create(rt, model.config, model.params);
    const logits = await gm.score({
      input_ids: flat('input_ids'), attention_mask: flat('attention_mask'), token_type_ids: flat('token_type_ids'),
      batch: b.input_ids.length, length: b.input_ids[0].length, truncatedDocuments: 0, truncatedQueries: 0,
    });
    gm.release();
    out[basename(dir)] = Array.from(logits);
  }
} finally {
  rt.destroy();
}
console.log(JSON.stringify(out));
