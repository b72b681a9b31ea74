// Pair tokenisation for a cross-encoder, reproducing transformers'
//   tokenizer(queries, documents, truncation='only_second', max_length=N, padding='longest')
// @huggingface/tokenizers encodes each text; it has no pair truncation, so we do it ourselves the way the Rust
// library does: encode query and document separately (no special tokens), drop tokens from the END of the document
// until the pair plus its special tokens fits, then apply the post-processor's pair template (special tokens and
// token type ids) and pad on the right to the longest row in the batch.
//
// Where transformers would refuse (the query alone leaves no room for one document token), we cut the query to half
// the budget instead of failing the batch, and count it in `truncatedQueries`.

import { Tokenizer } from '@huggingface/tokenizers';

export interface PairBatch {
  /** [batch, length] row-major. */
  input_ids: Int32Array;
  attention_mask: Int32Array;
  /** All 0 for XLM-R (its template uses type 0 throughout). */
  token_type_ids: Int32Array;
  batch: number;
  length: number;
  /** Rows whose document was cut to fit max_length. */
  truncatedDocuments: number;
  /** Rows whose query alone was too long (transformers would raise here); the query was cut to half the budget. */
  truncatedQueries: number;
}

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

type Piece = { special: number[]; typeId: number } | { seq: 'A' | 'B'; typeId: number };

/** The pair template of tokenizer.json's post_processor, as pieces. */
export function pairTemplate(postProcessor: unknown, tokenToId: (t: string) => number | undefined): Piece[] {
  const p = postProcessor as Record<string, unknown> | null;
  if (!p) return [{ seq: 'A', typeId: 0 }, { seq: 'B', typeId: 1 }];
  const id = (tok: string, given?: unknown): number => {
    const v = typeof given === 'number' ? given : tokenToId(tok);
    if (v === undefined) throw new TokenizerError(`post_processor uses special token ${tok}, which is not in the vocabulary`);
    return v;
  };
  switch (p.type) {
    case 'TemplateProcessing': {
      const specials = (p.special_tokens ?? {}) as Record<string, { ids: number[] }>;
      return (p.pair as Record<string, { id: string; type_id: number }>[]).map((item) => {
        if (item.SpecialToken) {
          const s = specials[item.SpecialToken.id];
          return { special: s ? s.ids : [id(item.SpecialToken.id)], typeId: item.SpecialToken.type_id };
        }
        if (item.Sequence) return { seq: item.Sequence.id === 'B' ? 'B' : 'A', typeId: item.Sequence.type_id };
        throw new TokenizerError(`unknown item in post_processor pair template: ${JSON.stringify(item)}`);
      });
    }
    case 'RobertaProcessing': {
      const [clsT, clsId] = p.cls as [string, number];
      const [sepT, sepId] = p.sep as [string, number];
      const cls = id(clsT, clsId);
      const sep = id(sepT, sepId);
      return [{ special: [cls], typeId: 0 }, { seq: 'A', typeId: 0 }, { special: [sep, sep], typeId: 0 }, { seq: 'B', typeId: 0 }, { special: [sep], typeId: 0 }];
    }
    case 'BertProcessing': {
      const [clsT, clsId] = p.cls as [string, number];
      const [sepT, sepId] = p.sep as [string, number];
      const cls = id(clsT, clsId);
      const sep = id(sepT, sepId);
      return [{ special: [cls], typeId: 0 }, { seq: 'A', typeId: 0 }, { special: [sep], typeId: 0 }, { seq: 'B', typeId: 1 }, { special: [sep], typeId: 1 }];
    }
    case 'Sequence': {
      const inner = (p.processors as Record<string, unknown>[]).find((x) => ['TemplateProcessing', 'RobertaProcessing', 'BertProcessing'].includes(String(x.type)));
      return pairTemplate(inner ?? null, tokenToId);
    }
    default:
      throw new TokenizerError(`post_processor type ${String(p.type)} is not supported for pairs (supported: TemplateProcessing, RobertaProcessing, BertProcessing)`);
  }
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'content' in v) return String((v as { content: unknown }).content);
  return undefined;
}

// Where @huggingface/tokenizers' BertNormalizer differs from the Rust one transformers runs, the text is prepared
// before encoding so that the ids agree (tests/unit/model/slow-tokenizers.test.ts covers both cases):
//  - it puts spaces around CJK characters by UTF-16 unit, so one outside the BMP (𠮷, CJK extension B and later)
//    stays glued to its neighbours; we put the spaces around those ourselves (Rust's ranges, 2B920 included);
//  - it lowercases the whole string, so a word-final Σ becomes ς; Rust maps each character alone (Σ → σ).
const ASTRAL_CJK = /([\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B920}-\u{2CEAF}\u{2F800}-\u{2FA1F}])/gu;

function bertNormalizerFix(normalizer: unknown): ((text: string) => string) | undefined {
  const n = normalizer as { type?: string; handle_chinese_chars?: boolean; lowercase?: boolean } | null;
  if (n?.type !== 'BertNormalizer') return undefined;
  const cjk = n.handle_chinese_chars !== false;
  const lower = n.lowercase !== false;
  if (!cjk && !lower) return undefined;
  return (text) => {
    let t = cjk ? text.replace(ASTRAL_CJK, ' $1 ') : text;
    if (lower) t = t.replaceAll('Σ', 'σ');
    return t;
  };
}

// Documents longer than this many characters per max_length token are cut before tokenising (a token covers at
// least one character of a sane text, so the first max_length tokens are unaffected); it only bounds the work.
const CHARS_PER_TOKEN_CAP = 32;

export class PairTokenizer {
  readonly tokenizer: Tokenizer;
  readonly padId: number;
  private readonly template: Piece[];
  private readonly prepare: ((text: string) => string) | undefined;
  /** Special tokens the pair template adds. */
  readonly specialCount: number;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, opts: { padTokenId?: number } = {}) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object') throw new TokenizerError('tokenizer.json must hold a JSON object');
    const tj = tokenizerJson as Record<string, unknown>;
    const tc = (tokenizerConfig ?? {}) as Record<string, unknown>;
    try {
      this.tokenizer = new Tokenizer(tj, tc);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json could not be loaded by @huggingface/tokenizers: ${(e as Error).message}`);
    }
    const padName = tokenName(tc.pad_token);
    const fromName = padName !== undefined ? this.tokenizer.token_to_id(padName) : undefined;
    const pad = fromName ?? opts.padTokenId;
    if (pad === undefined) throw new TokenizerError('no pad token: tokenizer_config.json has no "pad_token" and config.json no "pad_token_id"');
    this.padId = pad;
    this.template = pairTemplate(tj.post_processor ?? null, (t) => this.tokenizer.token_to_id(t));
    this.prepare = bertNormalizerFix(tj.normalizer);
    this.specialCount = this.template.reduce((n, p) => n + ('special' in p ? p.special.length : 0), 0);
  }

  /** Token ids of one text, no special tokens. */
  encodeText(text: string, maxChars = Infinity): number[] {
    const cut = text.length > maxChars ? text.slice(0, maxChars) : text;
    return this.tokenizer.encode(this.prepare ? this.prepare(cut) : cut, { add_special_tokens: false }).ids;
  }

  /** One pair → ids and type ids, truncated to maxLength (document first). */
  encodePair(query: string, document: string, maxLength: number): { ids: number[]; typeIds: number[]; cutDoc: boolean; cutQuery: boolean } {
    const budget = maxLength - this.specialCount;
    if (budget < 2) throw new TokenizerError(`max_length ${maxLength} leaves no room for a query and a document after ${this.specialCount} special tokens`);
    let q = this.encodeText(query, maxLength * CHARS_PER_TOKEN_CAP);
    let d = this.encodeText(document, maxLength * CHARS_PER_TOKEN_CAP);
    let cutDoc = false;
    let cutQuery = false;
    if (q.length + d.length > budget) {
      if (budget - q.length >= 1) {
        d = d.slice(0, budget - q.length);
      } else {
        const keepQ = Math.floor(budget / 2);
        q = q.slice(0, keepQ);
        d = d.slice(0, budget - keepQ);
        cutQuery = true;
      }
      cutDoc = true;
    }
    const ids: number[] = [];
    const typeIds: number[] = [];
    for (const p of this.template) {
      const part = 'special' in p ? p.special : p.seq === 'A' ? q : d;
      for (const id of part) {
        ids.push(id);
        typeIds.push(p.typeId);
      }
    }
    return { ids, typeIds, cutDoc, cutQuery };
  }

  /** A batch of pairs, padded on the right to its longest row. */
  encodePairs(queries: readonly string[], documents: readonly string[], opts: { maxLength: number }): PairBatch {
    if (queries.length !== documents.length) throw new TokenizerError(`${queries.length} queries but ${documents.length} documents: pairs must line up`);
    if (queries.length === 0) throw new TokenizerError('cannot tokenise an empty batch');
    const rows = queries.map((q, i) => this.encodePair(q, documents[i], opts.maxLength));
    const length = Math.max(...rows.map((r) => r.ids.length));
    const B = rows.length;
    const input_ids = new Int32Array(B * length).fill(this.padId);
    const attention_mask = new Int32Array(B * length);
    const token_type_ids = new Int32Array(B * length);
    rows.forEach((r, b) => {
      input_ids.set(r.ids, b * length);
      token_type_ids.set(r.typeIds, b * length);
      attention_mask.fill(1, b * length, b * length + r.ids.length);
    });
    return {
      input_ids,
      attention_mask,
      token_type_ids,
      batch: B,
      length,
      truncatedDocuments: rows.filter((r) => r.cutDoc).length,
      truncatedQueries: rows.filter((r) => r.cutQuery).length,
    };
  }
}

/** Builds a PairTokenizer from the text (or parsed JSON) of tokenizer.json and tokenizer_config.json. */
export function createPairTokenizer(tokenizerJson: string | object, tokenizerConfig: string | object | undefined, opts: { padTokenId?: number } = {}): PairTokenizer {
  const parse = (v: string | object | undefined, name: string): unknown => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch (e) {
      throw new TokenizerError(`${name} is not valid JSON: ${(e as Error).message}`);
    }
  };
  return new PairTokenizer(parse(tokenizerJson, 'tokenizer.json'), parse(tokenizerConfig, 'tokenizer_config.json') ?? {}, opts);
}
