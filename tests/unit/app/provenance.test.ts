import { describe, expect, it } from 'vitest';
import {
  chunksFingerprint,
  corpusFingerprint,
  describeStale,
  fingerprintOf,
  queriesFingerprint,
  record,
  resultId,
  staleReasons,
  type Fingerprints,
  type Made,
} from '../../../src/app/lib/provenance.ts';

// The page's provenance rules (issue 8 item 2): every result records what it was made from and is out of date when
// any of it changes, directly or through an upstream result.

const docsA = [{ source: 'a.txt', hash: 'h1' }];
const docsAB = [...docsA, { source: 'b.txt', hash: 'h2' }];

/** The lab after a whole run: chunks, queries, dataset, base scores, probe, training, report, made in order. */
function afterRun(): { made: Made; current: Fingerprints } {
  let current: Fingerprints = {
    corpus: corpusFingerprint(docsA),
    chunking: fingerprintOf({ size: 300, overlap: 50 }),
    chunks: chunksFingerprint([{ id: 'c1', text: '燃气' }]),
    queries: queriesFingerprint([{ chunk_id: 'c1', query: '燃气？' }]),
    mining: fingerprintOf({ negatives: 3 }),
    model: 'model-A',
    maxLength: '32',
    groupSize: '4',
    loss: 'listwise',
    trainSettings: fingerprintOf({ epochs: 2, lr: 2e-5 }),
  };
  let made: Made = {};
  for (const r of ['chunks', 'queries', 'dataset', 'baseScores', 'probe', 'train', 'report'] as const) {
    made = record(made, r, current);
    if (r === 'dataset') current = { ...current, dataset: resultId(made.dataset!) };
    if (r === 'train') current = { ...current, train: resultId(made.train!) + ':run1' };
  }
  return { made, current };
}

describe('provenance', () => {
  it('a whole run with unchanged inputs is up to date', () => {
    const { made, current } = afterRun();
    for (const r of Object.keys(made) as (keyof Made)[]) expect(staleReasons(r, made, current), r).toEqual([]);
  });

  it('a second folder after training marks every step downstream of the documents, and says why', () => {
    const { made, current } = afterRun();
    const now = { ...current, corpus: corpusFingerprint(docsAB), chunks: chunksFingerprint([{ id: 'c1', text: '燃气' }, { id: 'c2', text: '供水' }]) };
    expect(staleReasons('chunks', made, now)).toEqual([{ input: 'corpus', kind: 'changed' }]);
    expect(staleReasons('queries', made, now)).toEqual([{ input: 'chunks', kind: 'changed' }]);
    expect(staleReasons('dataset', made, now).map((r) => r.input)).toEqual(['chunks', 'queries']);
    // the dataset was not mined again, so its id is the same, but it is built on old chunks: stale through it
    expect(staleReasons('train', made, now)).toEqual([{ input: 'dataset', kind: 'stale' }]);
    expect(staleReasons('report', made, now).map((r) => r.input)).toEqual(['dataset', 'train']);
    expect(staleReasons('probe', made, now)).toEqual([]); // memory does not depend on the texts
    expect(describeStale(staleReasons('train', made, now))).toBe('训练集 the training set (step 3) is out of date');
  });

  it('switching the model marks the probe, base scores, training and report, not the data', () => {
    const { made, current } = afterRun();
    const now = { ...current, model: 'model-B' };
    expect(staleReasons('probe', made, now)).toEqual([{ input: 'model', kind: 'changed' }]);
    expect(staleReasons('baseScores', made, now)).toEqual([{ input: 'model', kind: 'changed' }]);
    expect(staleReasons('train', made, now)).toEqual([{ input: 'model', kind: 'changed' }]);
    expect(staleReasons('report', made, now).map((r) => r.input)).toEqual(['model', 'train']);
    expect(staleReasons('dataset', made, now)).toEqual([]);
    expect(describeStale(staleReasons('probe', made, now))).toBe('模型 the model (step 4) changed since it was made');
  });

  it('the same folder dropped again, or mining again with the same settings, keeps everything up to date', () => {
    const { made, current } = afterRun();
    const again = { ...current, corpus: corpusFingerprint([...docsA]), dataset: resultId(record({}, 'dataset', current).dataset!) };
    expect(staleReasons('report', made, again)).toEqual([]);
  });

  it('settings count: a new max length outdates the probe, an edited query the dataset', () => {
    const { made, current } = afterRun();
    expect(staleReasons('probe', made, { ...current, maxLength: '64' })).toEqual([{ input: 'maxLength', kind: 'changed' }]);
    const edited = { ...current, queries: queriesFingerprint([{ chunk_id: 'c1', query: '燃气怎么办？' }]) };
    expect(staleReasons('dataset', made, edited)).toEqual([{ input: 'queries', kind: 'changed' }]);
  });

  it('fingerprints: key order does not matter, content does', () => {
    expect(fingerprintOf({ a: 1, b: 2 })).toBe(fingerprintOf({ b: 2, a: 1 }));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: 2 }));
    expect(chunksFingerprint([{ id: 'x', text: 'ab' }])).not.toBe(chunksFingerprint([{ id: 'x', text: 'ac' }]));
    expect(corpusFingerprint([])).toBe('');
  });

  it('a result never made is not out of date', () => {
    expect(staleReasons('report', {}, { model: 'x' })).toEqual([]);
  });
});
