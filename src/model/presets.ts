// Model shapes by name, for benchmarks and the batch-size probe with random weights. The first three are the shapes of
// ../shared/device/torch_reference.py (bert-base-chinese, bge-reranker-base, bge-reranker-large).
import { type ModelConfig, parseModelConfig } from './config.ts';

const bert = (o: Record<string, unknown>) => ({
  model_type: 'bert', architectures: ['BertForSequenceClassification'], hidden_act: 'gelu', num_labels: 1,
  id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 }, max_position_embeddings: 512, type_vocab_size: 2,
  layer_norm_eps: 1e-12, pad_token_id: 0, ...o,
});
const xlmr = (o: Record<string, unknown>) => ({
  model_type: 'xlm-roberta', architectures: ['XLMRobertaForSequenceClassification'], hidden_act: 'gelu', num_labels: 1,
  id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 }, max_position_embeddings: 514, type_vocab_size: 1,
  layer_norm_eps: 1e-5, pad_token_id: 1, ...o,
});

export const PRESETS = {
  'bert-base': bert({ vocab_size: 21128, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }),
  'bge-base': xlmr({ vocab_size: 250002, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }),
  'bge-large': xlmr({ vocab_size: 250002, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 }),
  /** Small enough for a software adapter. */
  tiny: bert({ vocab_size: 1000, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 128 }),
} as const;

export type PresetName = keyof typeof PRESETS;

export function presetConfig(name: string): ModelConfig {
  const raw = (PRESETS as Record<string, unknown>)[name];
  if (!raw) throw new Error(`unknown model shape '${name}'; choose one of ${Object.keys(PRESETS).join(', ')}`);
  return parseModelConfig(raw);
}
