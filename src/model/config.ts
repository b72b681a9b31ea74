// config.json of a Hugging Face BERT / RoBERTa / XLM-RoBERTa model → a typed ModelConfig.
// The two architectures differ only in parameter-name prefix, head names, position ids (RoBERTa family counts
// positions from padding_idx + 1) and the classifier head's names; the maths of the encoder is the same.

export type Arch = 'bert' | 'xlm-roberta';

export interface ModelConfig {
  /** 'bert' (model_type bert) or 'xlm-roberta' (model_type xlm-roberta or roberta: same layout and positions). */
  arch: Arch;
  /** model_type as written in config.json. */
  modelType: string;
  /** architectures[0] as written (e.g. 'XLMRobertaForSequenceClassification'); '' when absent. */
  architecture: string;
  /** True when the checkpoint has no sequence-classification head (BertModel, *ForMaskedLM …): it starts new. */
  headIsNew: boolean;
  hidden: number;
  layers: number;
  heads: number;
  /** hidden / heads. */
  headDim: number;
  intermediate: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  numLabels: number;
  /** Only exact (erf) GELU is supported, as transformers' 'gelu'. */
  hiddenAct: 'gelu';
  /** Weight-init std of transformers' _init_weights (used only for a new head). */
  initializerRange: number;
  /** Prefix of encoder parameter names: 'bert' or 'roberta'. */
  prefix: 'bert' | 'roberta';
  /**
   * First position id of a real token: 0 for BERT; padding_idx + 1 for the RoBERTa family, whose padding positions
   * get padding_idx itself. The longest sequence is therefore maxPositions - positionOffset.
   */
  positionOffset: number;
  /** Longest input the position table allows. */
  maxSequenceLength: number;
  /** The parsed config.json, kept so that saving writes back every field the user had. */
  raw: Record<string, unknown>;
}

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

const SUPPORTED = 'supported: model_type bert (BertForSequenceClassification), xlm-roberta (XLMRobertaForSequenceClassification) and roberta (RobertaForSequenceClassification)';

/** Encoder-only architectures whose weights we can start from with a freshly initialised classifier head. */
const ENCODER_ONLY = new Set([
  'BertModel', 'BertForMaskedLM', 'BertForPreTraining', 'BertForNextSentencePrediction',
  'RobertaModel', 'RobertaForMaskedLM', 'XLMRobertaModel', 'XLMRobertaForMaskedLM',
]);

function num(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelConfigError(`config.json has no "${key}"; it is required for a ${String(raw.model_type)} model`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelConfigError(`config.json "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = num(raw, key, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ModelConfigError(`config.json "${key}" must be a positive integer, got ${v}`);
  return v;
}

/** Parses config.json (text or already-parsed object). Throws ModelConfigError naming what is unsupported. */
export function parseModelConfig(json: string | unknown): ModelConfig {
  let raw: unknown = json;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch (e) {
      throw new ModelConfigError(`config.json is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError('config.json must hold a JSON object');
  const r = raw as Record<string, unknown>;
  const modelType = String(r.model_type ?? '');
  let arch: Arch;
  if (modelType === 'bert') arch = 'bert';
  else if (modelType === 'xlm-roberta' || modelType === 'roberta') arch = 'xlm-roberta';
  else throw new ModelConfigError(`model_type "${modelType || '(missing)'}" is not supported; ${SUPPORTED}`);

  const architectures = Array.isArray(r.architectures) ? r.architectures.map(String) : [];
  const architecture = architectures[0] ?? '';
  const classification = architectures.some((a) => a.endsWith('ForSequenceClassification'));
  const encoderOnly = architectures.length === 0 || architectures.some((a) => ENCODER_ONLY.has(a));
  if (!classification && !encoderOnly) {
    throw new ModelConfigError(`architecture ${architectures.join(', ')} is not supported; ${SUPPORTED} (encoder-only checkpoints such as BertModel or XLMRobertaForMaskedLM also load, with a new classifier head)`);
  }
  const expectedPrefix = arch === 'bert' ? 'Bert' : modelType === 'roberta' ? 'Roberta' : 'XLMRoberta';
  if (architecture && !architecture.startsWith(expectedPrefix)) {
    throw new ModelConfigError(`architecture ${architecture} does not match model_type "${modelType}" (expected ${expectedPrefix}…); ${SUPPORTED}`);
  }

  const act = r.hidden_act ?? 'gelu';
  if (act !== 'gelu') {
    throw new ModelConfigError(`hidden_act "${String(act)}" is not supported: only "gelu" (exact, erf-based) is implemented; "gelu_new"/"gelu_pytorch_tanh" and others would train a different function`);
  }
  const posType = r.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute') throw new ModelConfigError(`position_embedding_type "${String(posType)}" is not supported; only "absolute" is`);
  if (r.is_decoder === true || r.add_cross_attention === true) throw new ModelConfigError('decoder / cross-attention models are not supported; a cross-encoder is an encoder-only model');

  const hidden = posInt(r, 'hidden_size');
  const heads = posInt(r, 'num_attention_heads');
  if (hidden % heads !== 0) throw new ModelConfigError(`hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const padTokenId = num(r, 'pad_token_id', arch === 'bert' ? 0 : 1);
  if (!Number.isInteger(padTokenId) || padTokenId < 0) throw new ModelConfigError(`pad_token_id must be a non-negative integer, got ${padTokenId}`);
  const id2label = r.id2label && typeof r.id2label === 'object' ? Object.keys(r.id2label as object).length : 0;
  const numLabels = classification ? posInt(r, 'num_labels', id2label || 1) : 1;
  const maxPositions = posInt(r, 'max_position_embeddings');
  const positionOffset = arch === 'bert' ? 0 : padTokenId + 1;
  const maxSequenceLength = maxPositions - positionOffset;
  if (maxSequenceLength <= 0) throw new ModelConfigError(`max_position_embeddings ${maxPositions} leaves no room for tokens after the padding offset ${positionOffset}`);
  const cfg: ModelConfig = {
    arch,
    modelType,
    architecture,
    headIsNew: !classification,
    hidden,
    layers: posInt(r, 'num_hidden_layers'),
    heads,
    headDim: hidden / heads,
    intermediate: posInt(r, 'intermediate_size'),
    vocabSize: posInt(r, 'vocab_size'),
    maxPositions,
    typeVocabSize: posInt(r, 'type_vocab_size', 2),
    layerNormEps: num(r, 'layer_norm_eps', 1e-12),
    padTokenId,
    numLabels,
    hiddenAct: 'gelu',
    initializerRange: num(r, 'initializer_range', 0.02),
    prefix: arch === 'bert' ? 'bert' : 'roberta',
    positionOffset,
    maxSequenceLength,
    raw: r,
  };
  if (padTokenId >= cfg.vocabSize) throw new ModelConfigError(`pad_token_id ${padTokenId} is outside the vocabulary (vocab_size ${cfg.vocabSize})`);
  return cfg;
}

/** The config.json to save next to trained weights: the original fields, with a classification head declared. */
export function configJsonForSave(cfg: ModelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg.raw };
  const cls = cfg.arch === 'bert' ? 'BertForSequenceClassification' : cfg.modelType === 'roberta' ? 'RobertaForSequenceClassification' : 'XLMRobertaForSequenceClassification';
  out.architectures = [cls];
  if (cfg.headIsNew || out.id2label === undefined) {
    out.num_labels = cfg.numLabels;
    out.id2label = Object.fromEntries(Array.from({ length: cfg.numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
    out.label2id = Object.fromEntries(Array.from({ length: cfg.numLabels }, (_, i) => [`LABEL_${i}`, i]));
  }
  // We write f32 tensors; a stale "torch_dtype": "float16" would make loaders cast on load.
  if ('torch_dtype' in out) out.torch_dtype = 'float32';
  if ('dtype' in out) out.dtype = 'float32';
  return out;
}
