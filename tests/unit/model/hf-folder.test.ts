import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/model/config.ts';
import { loadHfFolder, readFolderNode, saveHfFolder, writeFolderNode, type FileMap } from '../../../src/model/hf-folder.ts';
import { hasWeightDecay, initNewHead, modelParamNames, paramSpecs, validateParams } from '../../../src/model/params.ts';
import { referenceForward, toFloat64Params } from '../../../src/model/reference/index.ts';
import { readSafetensors, writeSafetensors, type FloatTensor } from '../../../src/model/safetensors.ts';
import { FIXTURES, fixtureDir } from './fixture.ts';

describe.each(FIXTURES)('HF folder (%s)', (name) => {
  it('loads, saves with original names, and reloads to identical tensors and logits', async () => {
    const files = await readFolderNode(fixtureDir(name));
    const m = await loadHfFolder(files);
    expect(m.params.size).toBe(paramSpecs(m.config).length);
    expect(m.newHead).toEqual([]);
    const saved = saveHfFolder(m);
    // The fixture folder also holds gradient/after-AdamW dumps and batch/expected JSON: only the tokenizer files are
    // carried over; the rest is ours (weights, config, card).
    expect([...saved.keys()].sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    // Same tensor names as the original file, all F32.
    const orig = readSafetensors(files.get('model.safetensors')!);
    const again = readSafetensors(saved.get('model.safetensors')!);
    expect([...again.tensors.keys()].sort()).toEqual([...orig.tensors.keys()].sort());
    for (const [k, t] of orig.tensors) expect(Array.from(again.tensors.get(k)!.data)).toEqual(Array.from(t.data));
    expect(saved.get('tokenizer.json')).toEqual(files.get('tokenizer.json'));

    const dir = mkdtempSync(join(tmpdir(), 'hf-folder-'));
    try {
      await writeFolderNode(dir, saved);
      const re = await loadHfFolder(await readFolderNode(dir));
      const batch = re.tokenizer.encodePairs(['企业研发费用'], ['企业开展研发活动'], { maxLength: 32 });
      const a = referenceForward(m.config, toFloat64Params(m.params), batch).logits;
      const b = referenceForward(re.config, toFloat64Params(re.params), batch).logits;
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).architectures).toEqual(m.config.raw.architectures);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('HF folder errors and odd layouts', () => {
  const bertFiles = () => readFolderNode(fixtureDir('bert-tiny'));

  it('says what is wrong with a pytorch_model.bin that is not a checkpoint', async () => {
    const f = await bertFiles();
    f.delete('model.safetensors');
    f.set('pytorch_model.bin', new Uint8Array(10));
    await expect(loadHfFolder(f)).rejects.toThrow(/pytorch_model\.bin is neither a PyTorch zip checkpoint nor a legacy pickle checkpoint/);
  });

  it('names a missing or mis-shaped tensor, with expected and actual shapes', async () => {
    const f = await bertFiles();
    const t = readSafetensors(f.get('model.safetensors')!).tensors;
    t.delete('bert.encoder.layer.1.output.dense.bias');
    const w = t.get('bert.pooler.dense.weight')!;
    t.set('bert.pooler.dense.weight', { ...w, shape: [16, 64] });
    f.set('model.safetensors', writeSafetensors(t));
    await expect(loadHfFolder(f)).rejects.toThrow(/missing tensor bert\.encoder\.layer\.1\.output\.dense\.bias \(expected shape \[32\]\)[\s\S]*bert\.pooler\.dense\.weight has shape \[16,64\], expected \[32,32\]/);
  });

  it('finds the model inside a dropped folder path and ignores sub-folders and unused tensors', async () => {
    const f = await bertFiles();
    const t = readSafetensors(f.get('model.safetensors')!).tensors;
    t.set('bert.embeddings.position_ids', { dtype: 'F32', shape: [1, 64], data: new Float32Array(64) });
    t.set('cls.predictions.bias', { dtype: 'F32', shape: [394], data: new Float32Array(394) });
    f.set('model.safetensors', writeSafetensors(t));
    const dropped: FileMap = new Map([...f].map(([k, v]) => [`my-model/${k}`, v]));
    dropped.set('my-model/onnx/model.onnx', new Uint8Array(3));
    const m = await loadHfFolder(dropped);
    expect(m.notes.join('\n')).toMatch(/position_ids: position_ids buffer[\s\S]*cls\.predictions\.bias: language-model head/);
    expect([...m.extraFiles.keys()].sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(m.notes.join('\n')).toMatch(/not carried into an export: (adamw_hard\.json, )?batch\.json, expected\.json/);
  });

  it('reports a folder without config.json or tokenizer.json clearly', async () => {
    const f = await bertFiles();
    f.delete('tokenizer.json');
    await expect(loadHfFolder(f)).rejects.toThrow(/no tokenizer\.json and it has no tokenizer files at all\. Add tokenizer\.json next to config\.json: download it from .*AutoTokenizer/);
    f.set('vocab.txt', new Uint8Array(1));
    await expect(loadHfFolder(f)).rejects.toThrow(/vocab\.txt has 1 line\(s\): it is not a WordPiece vocabulary.*\. Add tokenizer\.json next to config\.json/);
    await expect(loadHfFolder(new Map([['model.safetensors', new Uint8Array(8)]]))).rejects.toThrow(/no config.json/);
  });

  it('loads a bare encoder checkpoint (no prefix, gamma/beta names, no head) and initialises the head', () => {
    const cfg = parseModelConfig({ model_type: 'bert', architectures: ['BertModel'], hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 12, vocab_size: 10, max_position_embeddings: 16 });
    const tensors = new Map<string, FloatTensor>();
    const head = new Set(['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
    for (const s of paramSpecs(cfg)) {
      if (head.has(s.name)) continue;
      const bare = s.name.replace(/^bert\./, '').replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
      tensors.set(bare, { dtype: 'F32', shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) });
    }
    const v = validateParams(cfg, tensors);
    expect(v.newHead.sort()).toEqual([...head].sort());
    const init = initNewHead(cfg, v.newHead, Math.random);
    expect(init.get('classifier.bias')!.every((x) => x === 0)).toBe(true);
    const w = init.get('bert.pooler.dense.weight')!;
    const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.005);
    expect(std).toBeLessThan(0.05);
  });

  it('loadHfFolder completes an encoder-only folder with a seeded head and saves it as a classifier', async () => {
    const f = await bertFiles();
    const t = readSafetensors(f.get('model.safetensors')!).tensors;
    for (const k of ['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']) t.delete(k);
    f.set('model.safetensors', writeSafetensors(t));
    const cfgJson = JSON.parse(new TextDecoder().decode(f.get('config.json')!));
    f.set('config.json', new TextEncoder().encode(JSON.stringify({ ...cfgJson, architectures: ['BertModel'] })));
    const a = await loadHfFolder(f, { seed: 1 });
    const b = await loadHfFolder(f, { seed: 1 });
    expect(a.newHead.length).toBe(4);
    expect([...a.params.keys()]).toEqual(paramSpecs(a.config).map((s) => s.name));
    expect(Array.from(a.params.get('classifier.weight')!)).toEqual(Array.from(b.params.get('classifier.weight')!));
    const saved = saveHfFolder(a);
    expect(JSON.parse(new TextDecoder().decode(saved.get('config.json')!)).architectures).toEqual(['BertForSequenceClassification']);
    const re = await loadHfFolder(saved);
    expect(re.newHead).toEqual([]);
  });

  it('puts biases and LayerNorm weights in the no-decay group, everything else in decay', () => {
    const cfg = parseModelConfig(readFileSync(fixtureDir('xlmr-tiny') + 'config.json', 'utf8'));
    const specs = paramSpecs(cfg);
    const n = modelParamNames(cfg);
    expect(specs.filter((s) => !s.decay).map((s) => s.name)).toEqual(specs.filter((s) => s.name.endsWith('bias') || s.name.includes('LayerNorm')).map((s) => s.name));
    expect(hasWeightDecay(n.embeddings.word)).toBe(true);
    expect(hasWeightDecay(n.layers[0].ln1W)).toBe(false);
    expect(n.head).toEqual({ denseW: 'classifier.dense.weight', denseB: 'classifier.dense.bias', outW: 'classifier.out_proj.weight', outB: 'classifier.out_proj.bias' });
  });
});
