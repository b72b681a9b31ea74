// The activation a cross-encoder folder declares for turning its logit into a score, as sentence-transformers reads
// and writes it: config.json's "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid"}
// (v4/v5), the older "sbert_ce_default_activation_function" key (< v4), or config_sentence_transformers.json's
// "activation_fn" in a v6 CrossEncoder folder. Without a declaration a one-logit model's score is sigmoid(logit),
// sentence-transformers' default (bge rerankers declare nothing and are read with a sigmoid).

export type Activation = 'sigmoid' | 'identity' | 'tanh';

/** The class path sentence-transformers writes for each (fullname() of the torch module). */
export const ACTIVATION_CLASS: Record<Activation, string> = {
  sigmoid: 'torch.nn.modules.activation.Sigmoid',
  identity: 'torch.nn.modules.linear.Identity',
  tanh: 'torch.nn.modules.activation.Tanh',
};

const BY_NAME: Record<string, Activation> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.Tanh': 'tanh',
};

export interface DeclaredActivation {
  activation: Activation;
  /** Where it came from, for the user ('default' when nothing was declared). */
  source: string;
  /** Set when the folder declared something we cannot apply (then `activation` is sigmoid). */
  unsupported?: string;
}

function parseJson(b: Uint8Array | undefined): Record<string, unknown> | undefined {
  if (!b) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(b));
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The activation a folder declares (config.json's raw fields and, when present, config_sentence_transformers.json). */
export function declaredActivation(configRaw: Record<string, unknown>, stConfigJson?: Uint8Array): DeclaredActivation {
  const st = configRaw.sentence_transformers as Record<string, unknown> | undefined;
  const v6 = parseJson(stConfigJson);
  const found: [unknown, string][] = [
    [st?.activation_fn, 'config.json sentence_transformers.activation_fn'],
    [configRaw.sbert_ce_default_activation_function, 'config.json sbert_ce_default_activation_function'],
    [v6?.model_type === 'CrossEncoder' ? v6.activation_fn : undefined, 'config_sentence_transformers.json activation_fn'],
  ];
  for (const [name, source] of found) {
    if (typeof name !== 'string' || !name) continue;
    const a = BY_NAME[name];
    if (a) return { activation: a, source };
    return { activation: 'sigmoid', source, unsupported: name };
  }
  return { activation: 'sigmoid', source: 'default' };
}

export function applyActivation(a: Activation, logit: number): number {
  switch (a) {
    case 'sigmoid':
      return logit >= 0 ? 1 / (1 + Math.exp(-logit)) : Math.exp(logit) / (1 + Math.exp(logit));
    case 'tanh':
      return Math.tanh(logit);
    case 'identity':
      return logit;
  }
}
