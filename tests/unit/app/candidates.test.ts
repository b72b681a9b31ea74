import { describe, expect, it } from 'vitest';
import { joinCandidates, splitCandidates } from '../../../src/app/lib/candidates.ts';
import { archLabel } from '../../../src/app/lib/format.ts';

// Issue 8 item 10: "try it" split pre-filled candidates at newlines inside a chunk; the model heading said "bert bert".
describe('try it candidates', () => {
  it('a pre-filled chunk with line breaks stays one candidate', () => {
    const docs = ['第一条\n燃气设施须报批。', '供水\n\n由水务局管理。', '公交'];
    expect(splitCandidates(joinCandidates(docs))).toEqual(docs);
  });
  it('typed candidates are one per line', () => {
    expect(splitCandidates('燃气\n\n供水\n公交 ')).toEqual(['燃气', '供水', '公交']);
  });
});

describe('model heading', () => {
  it('names the architecture once', () => {
    expect(archLabel('bert', 'bert')).toBe('BERT');
    expect(archLabel('xlm-roberta', 'xlm-roberta')).toBe('XLM-RoBERTa');
    expect(archLabel('bert', 'roberta')).toBe('BERT · model_type roberta');
  });
});
