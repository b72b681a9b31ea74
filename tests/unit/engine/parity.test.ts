// The GPU engine against Hugging Face transformers' dumps: ids, logits, both losses, every gradient, three AdamW steps.
import { describe, expect, it } from 'vitest';
import { TOL } from '../../../src/kernels/tolerances.ts';
import { loadParityFixture } from '../../../src/train/parity-fixture.ts';
import { runParity } from '../../../src/train/parity.ts';
import { gpu } from '../helpers/gpu.ts';
import { fixtureDir } from '../model/fixture.ts';

describe.each(['bert-tiny', 'xlmr-tiny'])('parity with transformers: %s', (name) => {
  it('matches ids, logits, losses, gradients and AdamW steps', async () => {
    const rt = await gpu();
    const r = await runParity(rt, await loadParityFixture(fixtureDir(name)));
    console.log(`[parity ${name}] ${JSON.stringify(r)}`);
    const t = TOL.parity;
    expect(r.ids_equal).toBe(true);
    expect(r.logits_max_rel_err).toBeLessThan(t.logitsRel);
    expect(r.loss_bce_abs_err).toBeLessThan(t.lossAbs);
    expect(r.loss_listwise_abs_err).toBeLessThan(t.lossAbs);
    expect(r.grads_bce_max_rel_err).toBeLessThan(t.gradRel);
    expect(r.grads_listwise_max_rel_err).toBeLessThan(t.gradRel);
    expect(r.after_adamw_max_rel_err).toBeLessThan(t.adamwRel);
    expect(r.logits_after_adamw_max_rel_err).toBeLessThan(t.logitsRel * 10);
    expect(r.pass).toBe(true);
  });
});
