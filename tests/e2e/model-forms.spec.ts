import { expect, test } from '@playwright/test';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The page's model step takes every folder form the library loads (tests/fixtures/hf-folders, made by transformers,
// sentence-transformers, sentencepiece and torch): vocab.txt or sentencepiece only, pytorch_model.bin (legacy, bf16),
// two labels, sharded safetensors, a bi-encoder; and a folder without any tokenizer gets a message saying what to add.

const FOLDERS = fileURLToPath(new URL('../fixtures/hf-folders/', import.meta.url));

const FORMS: [string, RegExp][] = [
  ['bert-vocab', /built from vocab\.txt and tokenizer_config\.json/],
  ['xlmr-spm', /built from sentencepiece\.bpe\.model/],
  ['bert-bin-bf16-legacy', /stored as BF16 were widened/],
  ['bert-2labels', /2 labels \(a softmax pair\)/],
  ['bert-sharded', /./],
  ['st-biencoder', /has no classification head/],
];

test('the model step loads every folder form and explains a folder without a tokenizer', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('./');
  await page.getByTestId('step-4').click();
  for (const [name, note] of FORMS) {
    await page.getByTestId('model-input').setInputFiles(FOLDERS + name);
    await expect(page.getByTestId('model-name').filter({ hasText: name }).or(page.getByTestId('model-error'))).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('model-error'), name).toHaveCount(0);
    await expect(page.getByTestId('model-summary')).toContainText(note);
  }
  const dir = mkdtempSync(join(tmpdir(), 'no-tokenizer-'));
  try {
    const copy = join(dir, 'xlmr-no-tokenizer');
    cpSync(FOLDERS + 'xlmr-spm', copy, { recursive: true });
    rmSync(join(copy, 'sentencepiece.bpe.model'));
    await page.getByTestId('model-input').setInputFiles(copy);
    await expect(page.getByTestId('model-error')).toContainText(/no tokenizer\.json .*Add tokenizer\.json next to config\.json/, { timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect(errors).toEqual([]);
});
