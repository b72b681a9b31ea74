// What the training worker's saved weights were made from. Beside the fine-tuned weights and each checkpoint in
// OPFS lies a small JSON record (the base model's fingerprint and name, the dataset's fingerprint, the options), so
// that scoring, exporting or resuming with another model is refused with a message that says what to do, instead of
// shipping one model's fine-tune under another's name (issue 8, item 1).

import type { ResolvedTrainOptions } from '../../train/checkpoint.ts';
import type { TrainOptions } from '../../train/types.ts';

/** Which training a job belongs to: the main run (its weights are the fine-tuned model) or a sweep trial. */
export type RunSlot = 'main' | 'sweep';

/** What the page tells the worker about a run: the model and the dataset it is made from. */
export interface RunTag {
  slot?: RunSlot;
  /** The dataset's fingerprint (the page's provenance id). */
  dataset?: string;
}

export interface RunRecord {
  /** The base model's fingerprint and name when the run started. */
  model: string;
  modelName: string;
  dataset?: string;
  options: TrainOptions | ResolvedTrainOptions;
  /** Optimizer steps in the saved weights / at the checkpoint. */
  step: number;
  totalSteps?: number;
  epoch?: number;
  savedAt: string;
}

export class TunedModelMismatchError extends Error {
  override name = 'TunedModelMismatch';
}

/** Refuses weights trained from another base model, naming both and the two ways out. */
export function checkSameModel(what: 'fine-tuned weights' | 'checkpoint', rec: RunRecord | undefined, model: { fingerprint: string; name: string }): void {
  if (!rec) {
    throw new TunedModelMismatchError(`The ${what} in this browser carry no record of the model they came from (saved by an older version of the lab). Train again with ${model.name} (step 6).`);
  }
  if (rec.model !== model.fingerprint) {
    throw new TunedModelMismatchError(
      `The ${what} were trained from ${rec.modelName}, but the loaded model is ${model.name}. ` +
        `Train again with ${model.name} (step 6), or load ${rec.modelName} again (step 4).`,
    );
  }
}

export function parseRunRecord(bytes: Uint8Array | undefined): RunRecord | undefined {
  if (!bytes) return undefined;
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as RunRecord;
    return typeof r.model === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export const runRecordBytes = (r: RunRecord): Uint8Array => new TextEncoder().encode(JSON.stringify(r, null, 2) + '\n');
