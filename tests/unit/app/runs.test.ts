import { describe, expect, it } from 'vitest';
import { modelFingerprint } from '../../../src/workers/train/fingerprint.ts';
import { checkSameModel, parseRunRecord, runRecordBytes, type RunRecord } from '../../../src/workers/train/runs.ts';

// Issue 8 item 1: the training worker records which model its fine-tuned weights and checkpoints came from, and
// refuses them with another model loaded, whatever its shape (same shape: it used to export A's weights as B; other
// shape: "parameter 'bert.embeddings.LayerNorm.bias': 32 values, expected 48").

const enc = (s: string) => new TextEncoder().encode(s);

describe('model fingerprint', () => {
  it('the same files give the same identity, other weights of the same shape another', async () => {
    const a = { 'config.json': enc('{"hidden_size":32}'), 'model.safetensors': new Uint8Array([1, 2, 3, 4]) };
    const again = { 'model.safetensors': new Uint8Array([1, 2, 3, 4]), 'config.json': enc('{"hidden_size":32}') };
    const tuned = { 'config.json': enc('{"hidden_size":32}'), 'model.safetensors': new Uint8Array([1, 2, 3, 5]) };
    expect(await modelFingerprint(a)).toBe(await modelFingerprint(again));
    expect(await modelFingerprint(a)).not.toBe(await modelFingerprint(tuned));
    expect(await modelFingerprint(new Map(Object.entries(a)))).toBe(await modelFingerprint(a));
  });
});

describe('run records', () => {
  const rec: RunRecord = { model: 'fp-A', modelName: 'bert-tiny', options: { loss: 'bce', batchSize: 2, groupSize: 4, epochs: 1, lr: 2e-5, warmupRatio: 0.1, maxLength: 32, seed: 1 }, step: 12, savedAt: 'now' };
  it('round-trips, and a damaged record reads as none', () => {
    expect(parseRunRecord(runRecordBytes(rec))).toEqual(rec);
    expect(parseRunRecord(enc('{oops'))).toBeUndefined();
    expect(parseRunRecord(undefined)).toBeUndefined();
  });
  it("accepts the same model, refuses another's weights with both names and the way out", () => {
    expect(() => checkSameModel('fine-tuned weights', rec, { fingerprint: 'fp-A', name: 'bert-tiny' })).not.toThrow();
    expect(() => checkSameModel('fine-tuned weights', rec, { fingerprint: 'fp-B', name: 'bge-small' })).toThrow(
      'The fine-tuned weights were trained from bert-tiny, but the loaded model is bge-small. Train again with bge-small (step 6), or load bert-tiny again (step 4).',
    );
    expect(() => checkSameModel('checkpoint', undefined, { fingerprint: 'fp-B', name: 'bge-small' })).toThrow(/carry no record/);
    let thrown: unknown;
    try {
      checkSameModel('checkpoint', rec, { fingerprint: 'x', name: 'y' });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as Error | undefined)?.name).toBe('TunedModelMismatch'); // the page offers "Train again" on this name
  });
});
