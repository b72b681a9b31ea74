// Training memory for (model, batch, max length), before anything is allocated: parameters, gradients, AdamW's two
// moments, and the activations the encoder keeps for backward (GpuCrossEncoder.workspaceBytes), plus a small
// allowance for per-batch buffers and kernel scratch.
import type { ModelConfig } from '../model/config.ts';
import { GpuCrossEncoder } from '../model/gpu/encoder.ts';
import { paramSpecs } from '../model/params.ts';
import type { MemoryEstimate } from './types.ts';

export function paramCount(cfg: ModelConfig): number {
  return paramSpecs(cfg).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

/** `pairs` query–document pairs per micro-batch, each padded to `maxLength` tokens (the worst case). */
export function estimateTrainingMemory(cfg: ModelConfig, pairs: number, maxLength: number): MemoryEstimate {
  const p = paramCount(cfg) * 4;
  const T = pairs * maxLength;
  const activationsBytes = GpuCrossEncoder.workspaceBytes(cfg, pairs, maxLength);
  // Embedding gradient plans, ids, mask, labels, logits, LayerNorm/colSum/attention scratch: a few bytes per token
  // and a few rows of hidden size per token block.
  const scratch = T * 4 * 16 + 4 * cfg.hidden * Math.ceil(T / 64) * 2 + (1 << 20);
  return {
    paramsBytes: p,
    gradsBytes: p,
    optimizerBytes: 2 * p,
    activationsBytes: activationsBytes + scratch,
    totalBytes: 4 * p + activationsBytes + scratch,
  };
}
