// The training settings `train` takes and `export --recipe` passes on to sentence-transformers, declared once
// (src/cli/args.ts rows): the same names, kinds, help and defaults in both commands.

import { DEFAULT_ADAMW } from '../train/optimizer.ts';
import type { TrainOptions } from '../train/types.ts';
import type { OptionSpec } from './args.ts';

/** `train`'s defaults (the recipe export starts from them too). */
export const TRAIN_DEFAULTS = { loss: 'listwise', batchSize: 8, groupSize: 8, epochs: 2, lr: 2e-5, warmupRatio: 0.1, maxLength: 256, seed: 42 } as const satisfies TrainOptions;

export const RECIPE_OPTIONS = {
  loss: { choices: ['bce', 'listwise'], default: TRAIN_DEFAULTS.loss, help: 'pointwise BCE (sentence-transformers CrossEncoder) or listwise softmax CE (FlagEmbedding)' },
  batch: { kind: 'int', default: TRAIN_DEFAULTS.batchSize, help: 'query groups per optimizer step' },
  'group-size': { kind: 'int', default: TRAIN_DEFAULTS.groupSize, help: 'documents per query: 1 positive + N-1 negatives' },
  epochs: { kind: 'int', default: TRAIN_DEFAULTS.epochs, help: 'passes over the training set' },
  lr: { kind: 'number', default: TRAIN_DEFAULTS.lr, help: 'peak learning rate' },
  'warmup-ratio': { kind: 'number', default: TRAIN_DEFAULTS.warmupRatio, help: 'linear warmup over this fraction of the steps, then linear decay' },
  'max-length': { kind: 'int', default: TRAIN_DEFAULTS.maxLength, help: 'tokens per pair' },
  seed: { kind: 'int', default: TRAIN_DEFAULTS.seed, help: 'negatives, order, dropout and hold-out' },
  'grad-accum': { kind: 'int', default: 1, help: 'micro-batches per step' },
  'weight-decay': { kind: 'number', default: DEFAULT_ADAMW.weightDecay, help: 'AdamW weight decay' },
  'max-grad-norm': { kind: 'number', default: DEFAULT_ADAMW.maxGradNorm ?? 1, help: 'gradient clipping' },
  dropout: { kind: 'number', defaultText: "the model's hidden_dropout_prob", help: 'hidden dropout' },
} as const satisfies Record<string, OptionSpec>;

/** The same rows as overrides: no default of their own; the help says "(default: <fallback> <train's> as in train)". */
export function asOverrides<const T extends Record<string, OptionSpec>>(rows: T, fallback: string): { [K in keyof T]: Omit<T[K], 'default'> & { defaultText: string } } {
  const out: Record<string, OptionSpec> = {};
  for (const [name, o] of Object.entries(rows)) {
    const { default: d, ...rest } = o;
    out[name] = { ...rest, defaultText: `${fallback} ${d ?? o.defaultText} as in train` };
  }
  return out as { [K in keyof T]: Omit<T[K], 'default'> & { defaultText: string } };
}
