// The engine's side of check_export.py (run with tsx): for each model folder given, load it as the lab does, train a
// few steps on its own pairs so the weights differ from the base, save the export as the lab does (saveHfFolder:
// the same call the train command and the page's worker make), and score the check pairs with the trained model on
// the GPU. One process for every folder, so the GPU pipelines are compiled once.
//
//   npx tsx tests/python/engine_export.ts OUT_DIR PAIRS_JSON FOLDER...
// writes OUT_DIR/<folder name>/ (the export) and OUT_DIR/<folder name>.engine.json:
//   {"activation", "max_length", "logits": [...], "scores": [...], "max_weight_change", "notes": [...]}

import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GpuRuntime } from '../../src/gpu/runtime.ts';
import { modelCard } from '../../src/eval/model-card.ts';
import { applyActivation } from '../../src/model/activation.ts';
import { loadHfFolder, readFolderNode, saveHfFolder, writeFolderNode } from '../../src/model/hf-folder.ts';
import { GpuModel } from '../../src/train/gpu-model.ts';
import { paramCount } from '../../src/train/memory.ts';
import { trainResilient } from '../../src/train/resilient.ts';
import { scorePairs } from '../../src/train/score.ts';
import type { TrainExample, TrainOptions } from '../../src/train/types.ts';

const MAX_LENGTH = 40;

async function main(): Promise<void> {
  const [out, pairsFile, ...folders] = process.argv.slice(2);
  if (!out || !pairsFile || !folders.length) throw new Error('usage: engine_export.ts OUT_DIR PAIRS_JSON FOLDER...');
  const pairs = JSON.parse(await readFile(pairsFile, 'utf8')) as { query: string; document: string }[];
  // Training examples from the check pairs: each query's own document is its positive, another pair's its negative.
  const train: TrainExample[] = pairs.map((p, i) => ({ query: p.query, pos: [p.document], neg: [pairs[(i + 1) % pairs.length].document] }));
  const opts: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 2, epochs: 1, lr: 5e-3, warmupRatio: 0, maxLength: MAX_LENGTH, seed: 1, dropout: 0 };
  const rt = await GpuRuntime.create();
  console.error(`adapter: ${rt.info.name}`);
  try {
    for (const dir of folders) {
      const name = basename(dir.replace(/\/+$/, ''));
      const t0 = Date.now();
      const model = await loadHfFolder(await readFolderNode(dir));
      const { best, summary } = await trainResilient(rt, model, { train, val: [] }, opts);
      let change = 0;
      for (const [k, v] of best) {
        const b = model.params.get(k)!;
        for (let i = 0; i < v.length; i++) change = Math.max(change, Math.abs(v[i] - b[i]));
      }
      const card = modelCard({
        baseModel: name,
        arch: model.config.architecture,
        paramCount: paramCount(model.config),
        data: { trainExamples: train.length, valExamples: 0 },
        settings: { ...opts },
        training: summary,
        scoring: { activation: model.activation, maxLength: MAX_LENGTH },
        createdAt: new Date().toISOString(),
      });
      const exportDir = join(out, name);
      await writeFolderNode(exportDir, saveHfFolder({ ...model, params: best }, { maxLength: MAX_LENGTH, modelCard: card }));
      const gm = await GpuModel.create(rt, model.config, best);
      const { logits } = await scorePairs(gm, model.tokenizer, pairs.map((p) => ({ query: p.query, doc: p.document })), { maxLength: MAX_LENGTH });
      gm.release();
      const result = { activation: model.activation, max_length: MAX_LENGTH, logits, scores: logits.map((x) => applyActivation(model.activation, x)), max_weight_change: change, notes: model.notes };
      await writeFile(join(out, `${name}.engine.json`), JSON.stringify(result, null, 1) + '\n');
      console.error(`${name}: ${summary.steps} step(s), weights moved by up to ${change.toExponential(2)}, exported and scored in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    rt.destroy();
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
