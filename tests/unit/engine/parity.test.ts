// The GPU engine against Hugging Face transformers' dumps: ids, logits, both losses, every gradient, three gentle
// AdamW steps and six hard ones (large learning rate and weight decay, every gradient clipped; the fixture comes from
// tests/python/dump_adamw_fixture.py). Every figure the report prints must be within its bound, and `pass` says so.
import { describe, expect, it } from 'vitest';
import { loadParityFixture } from '../../../src/train/parity-fixture.ts';
import { failedFigures, parityBounds, runParity } from '../../../src/train/parity.ts';
import { gpu } from '../helpers/gpu.ts';
import { fixtureDir } from '../model/fixture.ts';

describe.each(['bert-tiny', 'xlmr-tiny'])('parity with transformers: %s', (name) => {
  it('matches ids, logits, losses, gradients, AdamW steps and clipped hard AdamW steps', async () => {
    const rt = await gpu();
    const fx = await loadParityFixture(fixtureDir(name));
    expect(fx.adamwHard, 'the fixture folder has adamw_hard.json and after_adamw_hard.safetensors').toBeDefined();
    // the hard fixture really clips: every step's norm is far above max_grad_norm
    for (const s of fx.adamwHard!.expected.steps) expect(s.grad_norm).toBeGreaterThan(2 * fx.adamwHard!.expected.max_grad_norm);
    const r = await runParity(rt, fx);
    console.log(`[parity ${name}] ${JSON.stringify(r)}`);
    expect(r.ids_equal).toBe(true);
    const figures = r as unknown as Record<string, number | undefined>;
    for (const [figure, bound] of Object.entries(parityBounds())) {
      expect(figures[figure], `${figure} is reported`).toBeTypeOf('number');
      expect(figures[figure], figure).toBeLessThanOrEqual(bound);
    }
    expect(r.failed).toEqual([]);
    expect(r.pass).toBe(true);
  }, 600_000); // two full parity runs on SwiftShader (several minutes on a loaded machine)
});

describe('parity pass condition', () => {
  it('fails on any figure over its bound, NaN included, and names it', () => {
    const ok = Object.fromEntries(Object.keys(parityBounds()).map((k) => [k, 0]));
    const base = { ...ok, ids_equal: true } as unknown as Parameters<typeof failedFigures>[0];
    expect(failedFigures(base)).toEqual([]);
    for (const k of Object.keys(parityBounds())) {
      expect(failedFigures({ ...base, [k]: parityBounds()[k] * 2 })).toEqual([k]);
      expect(failedFigures({ ...base, [k]: NaN })).toEqual([k]);
    }
    expect(failedFigures({ ...base, ids_equal: false })).toEqual(['ids_equal']);
  });
});
