// Where the cross-encoder drops activations in training (Hugging Face's placement) and which mask each site uses:
// shared by the GPU encoder and the float64 reference so both drop exactly the same elements for the same seed.
//
//   hidden      after the embeddings' LayerNorm; after each attention output dense and each FFN output dense,
//               before the residual add (BertSelfOutput / BertOutput)                     hidden_dropout_prob
//   attention   on the softmax probabilities of every layer (BertSelfAttention)          attention_probs_dropout_prob
//   classifier  BERT: on the pooled output before the classifier (BertForSequenceClassification);
//               XLM-R: before classifier.dense and before classifier.out_proj (XLMRobertaClassificationHead)
//                                                                       classifier_dropout ?? hidden_dropout_prob
//
// A site's mask is the elementwise kernel's counter hash of (siteSeed(stepSeed, site), elementIndex) (redone on the
// CPU by dropoutKeep in ./reference/dropout.ts); attention probabilities index elements as ((b·heads + h)·L + query)·L
// + key.

export interface DropoutRates {
  hidden: number;
  attention: number;
  classifier: number;
}

export const NO_DROPOUT: DropoutRates = { hidden: 0, attention: 0, classifier: 0 };

export const DROPOUT_SITE = {
  embeddings: 1,
  /** XLM-R's classifier: before dense. */
  classifierDense: 2,
  /** BERT: the pooled output before the classifier; XLM-R: before out_proj. */
  classifierOut: 3,
  attentionOutput: (layer: number) => 10 + 2 * layer,
  ffnOutput: (layer: number) => 11 + 2 * layer,
  attentionProbs: (layer: number) => 0x10000 + layer,
} as const;

/** The mask seed of one site for one step: distinct per site so masks are independent. */
export function siteSeed(stepSeed: number, site: number): number {
  return (Math.imul(stepSeed >>> 0, 0x9e3779b1) + Math.imul(site, 0x85ebca77)) >>> 0;
}
