// Every folder form a user may bring (tests/fixtures/hf-folders, made by transformers / sentence-transformers /
// sentencepiece / torch: tests/python/dump_model_folders.py) loads to the same token ids and logits as transformers,
// and saves to a folder with our config, activation, max length and card, and nothing stale.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadHfFolder, readFolderNode, saveHfFolder, type HfModel } from '../../../src/model/hf-folder.ts';
import { referenceForward, toFloat64Params } from '../../../src/model/reference/index.ts';

const ROOT = fileURLToPath(new URL('../../fixtures/hf-folders/', import.meta.url));
const FOLDERS = readdirSync(ROOT).filter((n) => statSync(ROOT + n).isDirectory()).sort();

interface Expected {
  max_length: number;
  pairs: { query: string; document: string }[];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][] | null;
  logits?: number[][];
}

const expectedOf = (name: string): Expected => JSON.parse(readFileSync(`${ROOT}${name}/expected.json`, 'utf8'));
const load = async (name: string) => loadHfFolder(await readFolderNode(ROOT + name), { seed: 1 });
const decode = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b));

function logitsOf(m: HfModel, e: Expected): number[] {
  const batch = m.tokenizer.encodePairs(e.pairs.map((p) => p.query), e.pairs.map((p) => p.document), { maxLength: e.max_length });
  return Array.from(referenceForward(m.config, toFloat64Params(m.params), batch).logits);
}

/** transformers' logit per pair; a two-label head's is logit[1] − logit[0] (what the collapsed head computes). */
function expectedLogits(e: Expected): number[] {
  return e.logits!.map((row) => (row.length === 2 ? row[1] - row[0] : row[0]));
}

it('the fixture folder holds every input form', () => {
  expect(FOLDERS).toEqual(['bert-2labels', 'bert-bf16', 'bert-bin', 'bert-bin-bf16-legacy', 'bert-bin-f16', 'bert-f16', 'bert-sharded', 'bert-vocab', 'ce-identity', 'st-biencoder', 'xlmr-spm']);
});

describe.each(FOLDERS)('folder form %s', (name) => {
  it('tokenises the pairs exactly as transformers', async () => {
    const m = await load(name);
    const e = expectedOf(name);
    const b = m.tokenizer.encodePairs(e.pairs.map((p) => p.query), e.pairs.map((p) => p.document), { maxLength: e.max_length });
    expect(b.length).toBe(e.input_ids[0].length);
    expect(Array.from(b.input_ids)).toEqual(e.input_ids.flat());
    expect(Array.from(b.attention_mask)).toEqual(e.attention_mask.flat());
    // XLM-R's tokenizer returns no token_type_ids (all 0 in the model), BERT's does.
    expect(Array.from(b.token_type_ids)).toEqual(e.token_type_ids ? e.token_type_ids.flat() : e.input_ids.flat().map(() => 0));
  });

  it('saves a folder with our config, activation, max length and card, and nothing stale; it reloads to the same logits', async () => {
    const m = await load(name);
    const saved = saveHfFolder(m, { maxLength: 40, modelCard: '# ours\n' });
    const keys = [...saved.keys()].sort();
    for (const stale of ['modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json', 'expected.json', 'pytorch_model.bin', 'model.safetensors.index.json']) expect(keys).not.toContain(stale);
    expect(keys.filter((k) => k.includes('/'))).toEqual([]);
    expect(keys).toContain('tokenizer.json');
    expect(new TextDecoder().decode(saved.get('README.md'))).toBe('# ours\n');
    const cfg = decode(saved.get('config.json'));
    expect(cfg.architectures[0]).toMatch(/ForSequenceClassification$/);
    expect(Object.keys(cfg.id2label)).toEqual(['0']);
    expect(cfg.sentence_transformers.activation_fn).toBe(name === 'ce-identity' ? 'torch.nn.modules.linear.Identity' : 'torch.nn.modules.activation.Sigmoid');
    expect(decode(saved.get('tokenizer_config.json')).model_max_length).toBe(40);
    const re = await loadHfFolder(saved);
    expect(re.activation).toBe(m.activation);
    const e = expectedOf(name);
    expect(logitsOf(re, e)).toEqual(logitsOf(m, e));
  });
});

// A bi-encoder has no classification head to compare (ours starts from a seeded init).
describe.each(FOLDERS.filter((n) => n !== 'st-biencoder'))('folder form %s', (name) => {
  it("gives transformers' float32 logits (float64 reference, |Δ| < 2e-6)", async () => {
    const m = await load(name);
    const ours = logitsOf(m, expectedOf(name));
    const theirs = expectedLogits(expectedOf(name));
    expect(ours.length).toBe(theirs.length);
    ours.forEach((x, i) => expect(Math.abs(x - theirs[i])).toBeLessThan(2e-6));
  });
});

describe('what each form tells the user', () => {
  it('vocab.txt only: builds the WordPiece tokenizer, says so, and exports the tokenizer.json it used', async () => {
    const m = await load('bert-vocab');
    expect(m.notes.join('\n')).toMatch(/built from vocab\.txt and tokenizer_config\.json \(do_lower_case true, tokenize_chinese_chars true, strip_accents null\)/);
    const saved = saveHfFolder(m);
    expect(decode(saved.get('tokenizer.json')).model.type).toBe('WordPiece');
    expect(saved.get('vocab.txt')).toEqual(new Uint8Array(readFileSync(`${ROOT}bert-vocab/vocab.txt`)));
    // The folder had no model_max_length: the export gets the longest input the position table allows.
    expect(decode(saved.get('tokenizer_config.json')).model_max_length).toBe(m.config.maxSequenceLength);
  });

  it('sentencepiece.bpe.model only: builds the Unigram tokenizer and keeps the model file', async () => {
    const m = await load('xlmr-spm');
    expect(m.notes.join('\n')).toMatch(/built from sentencepiece\.bpe\.model/);
    const saved = saveHfFolder(m);
    expect(decode(saved.get('tokenizer.json')).model.type).toBe('Unigram');
    expect(saved.has('sentencepiece.bpe.model')).toBe(true);
  });

  it('pytorch_model.bin: reads the int64 position_ids buffer as skipped, and f16/bf16 as widened', async () => {
    expect((await load('bert-bin')).notes.join('\n')).toMatch(/skipped non-float tensors: bert\.embeddings\.position_ids \(I64\)/);
    expect((await load('bert-bin-f16')).notes.join('\n')).toMatch(/stored as F16 were widened/);
    expect((await load('bert-bin-bf16-legacy')).notes.join('\n')).toMatch(/stored as BF16 were widened/);
  });

  it('num_labels = 2: one logit w1 − w0, b1 − b0, named after the positive label, read with a sigmoid', async () => {
    const m = await load('bert-2labels');
    expect(m.config.numLabels).toBe(1);
    expect(m.activation).toBe('sigmoid');
    expect(m.notes.join('\n')).toMatch(/2 labels \(a softmax pair\).*logit\[relevant\] − logit\[other\]/);
    const cfg = decode(saveHfFolder(m).get('config.json'));
    expect(cfg.id2label).toEqual({ '0': 'relevant' });
    expect(cfg.label2id).toEqual({ relevant: 0 });
    // sigmoid(collapsed logit) = softmax probability of "relevant" in the original model.
    const e = expectedOf('bert-2labels');
    const ours = logitsOf(m, e);
    e.logits!.forEach(([z0, z1], i) => expect(Math.abs(1 / (1 + Math.exp(-ours[i])) - Math.exp(z1) / (Math.exp(z0) + Math.exp(z1)))).toBeLessThan(1e-6));
  });

  it('a sentence-transformers CrossEncoder with Identity keeps Identity', async () => {
    const m = await load('ce-identity');
    expect(m.activation).toBe('identity');
    expect(m.notes.join('\n')).toMatch(/declared activation identity \(config_sentence_transformers\.json activation_fn\)/);
  });

  it('a sentence-transformers bi-encoder: new seeded classifier on its pooler, its README / modules / pooling stay behind', async () => {
    const m = await load('st-biencoder');
    expect(m.newHead.sort()).toEqual(['classifier.bias', 'classifier.weight']);
    expect(m.notes.join('\n')).toMatch(/not carried into an export: README\.md, config_sentence_transformers\.json, expected\.json, modules\.json, sentence_bert_config\.json/);
    const saved = saveHfFolder(m);
    expect([...saved.keys()].sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'].filter((k) => k !== 'special_tokens_map.json' || m.extraFiles.has(k)));
    const card = new TextDecoder().decode(saved.get('README.md'));
    expect(card).not.toContain(new TextDecoder().decode(readFileSync(`${ROOT}st-biencoder/README.md`)).slice(0, 200));
    expect(card).toMatch(/Rerank Lab/);
  });
});

describe('refusals that say which file to add and where to get it', () => {
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  const withConfig = async (name: string, patch: Record<string, unknown>) => {
    const f = await readFolderNode(ROOT + name);
    f.set('config.json', enc({ ...decode(f.get('config.json')), ...patch }));
    return f;
  };

  it('an XLM-R folder without tokenizer.json or sentencepiece model: the tokenizer.json to download', async () => {
    const f = await withConfig('xlmr-spm', { _name_or_path: 'BAAI/bge-reranker-base' });
    f.delete('sentencepiece.bpe.model');
    await expect(loadHfFolder(f)).rejects.toThrow(/no tokenizer\.json and it has no tokenizer files at all\. Add tokenizer\.json next to config\.json: download it from https:\/\/huggingface\.co\/BAAI\/bge-reranker-base\/blob\/main\/tokenizer\.json/);
    const big = await withConfig('xlmr-spm', { vocab_size: 250002 });
    big.delete('sentencepiece.bpe.model');
    big.set('model.safetensors', new Uint8Array(8));
    await expect(loadHfFolder(big)).rejects.toThrow(/250002-token vocabulary.*FacebookAI\/xlm-roberta-base\/blob\/main\/tokenizer\.json/);
  });

  it('a sentencepiece model we cannot convert (damaged, BPE, not laid out like XLM-R)', async () => {
    const f = await readFolderNode(ROOT + 'xlmr-spm');
    f.set('sentencepiece.bpe.model', enc('not a protobuf at all, just text'));
    await expect(loadHfFolder(f)).rejects.toThrow(/sentencepiece\.bpe\.model (could not be read|holds \d+ piece).*Add tokenizer\.json next to config\.json/);
    // A model whose first pieces are not <unk> <s> </s>: a protobuf with one piece "hello".
    const piece = [0x0a, 0x07, 0x0a, 0x05, ...enc('hello')];
    f.set('sentencepiece.bpe.model', new Uint8Array([...piece, ...piece, ...piece, ...piece]));
    await expect(loadHfFolder(f)).rejects.toThrow(/starts with "hello hello hello", not XLM-RoBERTa's "<unk> <s> <\/s>"/);
    // trainer_spec { model_type: BPE } after the real pieces.
    f.set('sentencepiece.bpe.model', new Uint8Array([...readFileSync(`${ROOT}xlmr-spm/sentencepiece.bpe.model`), 0x12, 0x02, 0x18, 0x02]));
    await expect(loadHfFolder(f)).rejects.toThrow(/is a BPE model; only XLM-RoBERTa's unigram models are converted/);
  });

  it('a RoBERTa byte-level BPE folder (vocab.json + merges.txt) without tokenizer.json', async () => {
    const f = await readFolderNode(ROOT + 'xlmr-spm');
    f.set('config.json', enc({ ...decode(f.get('config.json')), model_type: 'roberta', architectures: ['RobertaForSequenceClassification'] }));
    f.delete('sentencepiece.bpe.model');
    f.set('vocab.json', enc({}));
    f.set('merges.txt', enc(''));
    await expect(loadHfFolder(f)).rejects.toThrow(/it has vocab\.json, merges\.txt, which are not a tokenizer we can build for model_type "roberta"/);
  });

  it('a vocab.txt whose tokenizer_config.json names another word splitter', async () => {
    const f = await readFolderNode(ROOT + 'bert-vocab');
    f.set('tokenizer_config.json', enc({ tokenizer_class: 'BertJapaneseTokenizer', word_tokenizer_type: 'mecab' }));
    await expect(loadHfFolder(f)).rejects.toThrow(/names BertJapaneseTokenizer, which needs its own word splitter/);
  });

  it('a classifier with more than two labels', async () => {
    const f = await withConfig('bert-2labels', { id2label: { 0: 'a', 1: 'b', 2: 'c' }, label2id: { a: 0, b: 1, c: 2 } });
    await expect(loadHfFolder(f)).rejects.toThrow(/the classifier has 3 labels .*a reranker needs one relevance score per pair/);
  });
});

describe('the exported tokenizer_config.json and config.json', () => {
  it('spell out a BERT tokenizer.json\'s case and CJK flags (transformers 5 rebuilds the normaliser from them)', async () => {
    const f = await readFolderNode(ROOT + 'bert-bin');
    const tj = decode(f.get('tokenizer.json'));
    tj.normalizer = { ...tj.normalizer, lowercase: false, handle_chinese_chars: false };
    f.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(tj)));
    f.set('tokenizer_config.json', new TextEncoder().encode(JSON.stringify({ model_max_length: 512, tokenizer_class: 'BertTokenizer' })));
    const tc = decode(saveHfFolder(await loadHfFolder(f)).get('tokenizer_config.json'));
    expect(tc).toMatchObject({ do_lower_case: false, tokenize_chinese_chars: false, strip_accents: null, tokenizer_class: 'BertTokenizer' });
    // model_max_length: the folder's 512 is clamped to what the position table allows (64 − 0 for BERT).
    expect(tc.model_max_length).toBe(64);
  });

  it('replace an older activation key and keep the rest of a sentence_transformers block', async () => {
    const f = await readFolderNode(ROOT + 'bert-f16');
    const cfg = decode(f.get('config.json'));
    f.set('config.json', new TextEncoder().encode(JSON.stringify({ ...cfg, torch_dtype: 'float16', sbert_ce_default_activation_function: 'torch.nn.modules.linear.Identity', sentence_transformers: { version: '3.0.1' } })));
    const m = await loadHfFolder(f);
    expect(m.activation).toBe('identity');
    const out = decode(saveHfFolder(m).get('config.json'));
    expect(out.sbert_ce_default_activation_function).toBeUndefined();
    expect(out.sentence_transformers).toEqual({ version: '3.0.1', activation_fn: 'torch.nn.modules.linear.Identity' });
    expect(out.torch_dtype).toBe('float32'); // the export is f32 whatever the base was
  });

  it('an activation we cannot apply is said, and the export declares the sigmoid we scored with', async () => {
    const f = await readFolderNode(ROOT + 'bert-f16');
    const cfg = decode(f.get('config.json'));
    f.set('config.json', new TextEncoder().encode(JSON.stringify({ ...cfg, sentence_transformers: { activation_fn: 'my_module.MyActivation' } })));
    const m = await loadHfFolder(f);
    expect(m.activation).toBe('sigmoid');
    expect(m.notes.join('\n')).toMatch(/declares my_module\.MyActivation, which Rerank Lab cannot apply: scores use sigmoid/);
    expect(decode(saveHfFolder(m).get('config.json')).sentence_transformers.activation_fn).toBe('torch.nn.modules.activation.Sigmoid');
  });
});
