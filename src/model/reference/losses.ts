// Float64 reference of the two training losses, each with its gradient w.r.t. the logits: the validation loss (on
// the CPU, src/train/evaluate-loss.ts), the float64 training loops and the loss kernels' tests use these.
//   BCE:      the seed's CrossEncoder (num_labels 1): torch BCEWithLogitsLoss, mean over pairs.
//   listwise: FlagEmbedding's reranker loss: logits viewed as [groups, groupSize], the positive at index 0 of each
//             group, CrossEntropyLoss (mean over groups).

export interface LossResult {
  loss: number;
  /** dLoss/dLogits, same length as the logits. */
  dLogits: Float64Array;
}

/**
 * mean_i [max(x,0) − x·y + log(1 + e^{−|x|})]; d/dx = (σ(x) − y) / N. With torch's pos_weight w ≠ 1:
 * mean_i [w·y·softplus(−x) + (1−y)·softplus(x)]; d/dx = (σ(x)·(1 − y + w·y) − w·y) / N.
 * gradScale multiplies the gradient (the kernel's gradient-accumulation factor), not the loss.
 */
export function bceWithLogitsRef(logits: ArrayLike<number>, labels: ArrayLike<number>, posWeight = 1, gradScale = 1): LossResult {
  const N = logits.length;
  if (labels.length !== N) throw new Error(`BCE: ${N} logits but ${labels.length} labels`);
  if (N === 0) throw new Error('BCE: empty batch');
  let loss = 0;
  const dLogits = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const x = logits[i];
    const y = labels[i];
    const sig = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    if (posWeight === 1) {
      loss += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
      dLogits[i] = (gradScale * (sig - y)) / N;
    } else {
      const softplusNeg = Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
      loss += posWeight * y * softplusNeg + (1 - y) * (softplusNeg + x);
      dLogits[i] = (gradScale * (sig * (1 - y + posWeight * y) - posWeight * y)) / N;
    }
  }
  return { loss: loss / N, dLogits };
}

/** mean_g [logsumexp(x_g) − x_g[0]]; d/dx_g = gradScale · (softmax(x_g) − e_0) / G. */
export function listwiseSoftmaxRef(logits: ArrayLike<number>, groupSize: number, gradScale = 1): LossResult {
  const N = logits.length;
  if (!Number.isInteger(groupSize) || groupSize < 2) throw new Error(`listwise loss: group size must be an integer ≥ 2 (one positive, at least one negative), got ${groupSize}`);
  if (N === 0 || N % groupSize !== 0) throw new Error(`listwise loss: ${N} logits is not a whole number of groups of ${groupSize}`);
  const G = N / groupSize;
  let loss = 0;
  const dLogits = new Float64Array(N);
  for (let g = 0; g < G; g++) {
    const o = g * groupSize;
    let max = -Infinity;
    for (let j = 0; j < groupSize; j++) max = Math.max(max, logits[o + j]);
    let sum = 0;
    for (let j = 0; j < groupSize; j++) sum += Math.exp(logits[o + j] - max);
    // (max − x0) first: max + log(sum) − x0 cancels to 0 when the logits are huge (1e30: log(sum) is lost)
    loss += max - logits[o] + Math.log(sum);
    for (let j = 0; j < groupSize; j++) dLogits[o + j] = (gradScale * (Math.exp(logits[o + j] - max) / sum - (j === 0 ? 1 : 0))) / G;
  }
  return { loss: loss / G, dLogits };
}
