// Training that survives a lost GPU device: the runtime recreates the device and training continues from the
// last checkpoint it produced (kept in memory here; the caller may also persist it). Used by the page's worker and
// the `train` command.
import { GpuDeviceLostError } from '../gpu/errors.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import type { HfModel } from '../model/hf-folder.ts';
import type { Checkpoint } from './checkpoint.ts';
import { buildRerankSet } from '../eval/candidates.ts';
import { type TrainData, type TrainHooks, type TrainResult, train } from './trainer.ts';
import type { TrainOptions } from './types.ts';

export interface ResilientHooks extends TrainHooks {
  /** How many lost devices to recover from before giving up (default 3). */
  maxRecoveries?: number;
}

export async function trainResilient(
  rt: GpuRuntime,
  model: HfModel,
  data: TrainData,
  options: TrainOptions,
  hooks: ResilientHooks = {},
): Promise<TrainResult> {
  let resumeFrom: Checkpoint | undefined = hooks.resumeFrom;
  // The validation candidate lists need no GPU: build them once, not again after each recovery.
  if (!data.rerank && data.val.length) {
    const emit = hooks.onEvent;
    const rerank = await buildRerankSet(data.val, {
      depth: options.valCandidates, signal: hooks.signal,
      onProgress: emit ? (p) => emit({ type: 'progress', stage: p.stage, done: p.done, total: p.total }) : undefined,
    });
    data = { ...data, rerank };
  }
  for (let recovered = 0; ; recovered++) {
    try {
      return await train(rt, model, data, options, {
        ...hooks,
        resumeFrom,
        onCheckpoint: async (c) => {
          resumeFrom = c;
          await hooks.onCheckpoint?.(c);
        },
      });
    } catch (e) {
      const lost = rt.lostError !== undefined || e instanceof GpuDeviceLostError;
      if (!lost || recovered >= (hooks.maxRecoveries ?? 3)) throw e;
      hooks.onEvent?.({
        type: 'warning',
        kind: 'device-lost',
        message:
          `${(e as Error).message} The device was recreated; training goes on from ` +
          (resumeFrom ? `the checkpoint at step ${resumeFrom.step}.` : 'the beginning (no checkpoint yet).'),
      });
      await rt.recreate();
    }
  }
}
