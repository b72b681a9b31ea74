// The batch-size probe on one shape with a fixed memory budget, for before/after figures on a software adapter:
//   npx tsx bench/probe.ts [maxLength=128] [groupSize=4] [budgetGroups=6]
// A tiny char-level BERT (hidden 32, 2 layers) on the CMRC 2018 trial data; the budget is the training-memory
// estimate for budgetGroups groups at 128 tokens, so answers at two lengths are comparable (memory depends on both
// the length and the group size: probe at the run's own).
import { GpuRuntime } from '../src/gpu/runtime.ts';
import { loadHfFolder } from '../src/model/hf-folder.ts';
import { buildTinyModel } from '../src/model/tiny.ts';
import { probeBatchSize } from '../src/train/probe.ts';
import { estimateTrainingMemory } from '../src/train/memory.ts';
import { cmrcCorpus, cmrcExamples } from '../tests/unit/train/cmrc.ts';

const [maxLength = 128, groupSize = 4, budgetGroups = 6] = process.argv.slice(2).map(Number);
const model = await loadHfFolder(buildTinyModel({ corpus: cmrcCorpus(), hidden: 32, heads: 2, layers: 2, intermediate: 64, maxPositions: 128, seed: 5 }));
const sample = cmrcExamples(groupSize - 1).train.slice(0, 64);
const budget = Math.round(estimateTrainingMemory(model.config, budgetGroups * groupSize, 128).totalBytes);
const rt = await GpuRuntime.create();
try {
  const r = await probeBatchSize(rt, model, sample, { groupSize, maxLength, loss: 'bce', maxBatch: 64, marginPercent: 20, budgetBytes: budget });
  console.log(JSON.stringify({ maxLength, groupSize, budget, largestOk: r.largestOk, recommended: r.recommended, steps: r.steps.map((s) => ({ groups: s.batchSize, ok: s.ok, failure: s.failure, peakHeldBytes: s.peakBytes })) }));
} finally {
  rt.destroy();
}
