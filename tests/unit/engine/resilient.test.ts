// Training survives a lost GPU device: the device is recreated and training goes on from the last checkpoint,
// ending with exactly the parameters of a run that never lost it.
import { describe, expect, it } from 'vitest';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { trainResilient } from '../../../src/train/resilient.ts';
import { train } from '../../../src/train/trainer.ts';
import type { TrainEvent, TrainOptions } from '../../../src/train/types.ts';
import { gpu } from '../helpers/gpu.ts';
import { cmrcCorpus, cmrcExamples } from '../train/cmrc.ts';

describe('training through a lost device', () => {
  it('recreates the device, resumes from the last checkpoint, and ends where an undisturbed run ends', async () => {
    const rt = await gpu();
    const model = await loadHfFolder(buildTinyModel({ corpus: cmrcCorpus(), hidden: 16, heads: 2, layers: 1, intermediate: 32, maxPositions: 64, seed: 3 }));
    const { train: t, val: v } = cmrcExamples(3);
    const data = { train: t.slice(0, 8), val: v.slice(0, 2) };
    const opts: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 2, epochs: 1, lr: 1e-3, warmupRatio: 0, maxLength: 24, seed: 7 };
    const undisturbed = await train(rt, model, data, opts, { evalBeforeTraining: false });

    const events: TrainEvent[] = [];
    let lost = false;
    const recovered = await trainResilient(rt, model, data, opts, {
      evalBeforeTraining: false,
      checkpointEverySteps: 2,
      onEvent(e) {
        events.push(e);
        if (e.type === 'step' && e.step === 3 && !lost) {
          lost = true;
          rt.loseDevice(); // the next GPU call fails as after a driver reset
        }
      },
    });
    const warning = events.find((e) => e.type === 'warning' && e.kind === 'device-lost');
    console.log(`[resilient] ${warning && 'message' in warning ? warning.message : 'no warning'}; steps ${recovered.summary.steps}`);
    expect(lost).toBe(true);
    expect(warning).toBeDefined();
    expect(recovered.summary.stopped).toBe('finished');
    expect(recovered.summary.steps).toBe(undisturbed.summary.steps);
    for (const [name, p] of undisturbed.best) expect(Array.from(recovered.best.get(name)!), name).toEqual(Array.from(p));
  });
});
