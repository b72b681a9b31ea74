import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, strFromU8 } from 'fflate';
import { startChatServer, type ChatServer } from './support/chat-server.ts';
import { writeSecondFolder } from './support/make-files.ts';

// The whole lab in headless Chromium on SwiftShader: a folder of Chinese documents (one GBK file, one PNG renamed
// .txt, one empty file) → queries from a local OpenAI-format server → hard negatives → the tiny fixture model →
// batch-size probe → a few training steps with a reload in the middle (resume from checkpoint) → evaluation →
// export, whose model folder is loaded again and must score like the fine-tuned model; then a second folder is
// dropped (it adds to the corpus) and every step built on the old documents is marked out of date, and the export
// refuses to ship the first model's fine-tune under the name of the model loaded now. A screenshot per step.

const here = fileURLToPath(new URL('.', import.meta.url));
const DOCS = join(here, 'support', 'docs');
const MODEL = join(here, '..', 'fixtures', 'hf-parity', 'bert-tiny');

let server: ChatServer;
test.beforeAll(async () => {
  server = await startChatServer();
});
test.afterAll(async () => {
  await server?.close();
});

async function shot(page: Page, info: TestInfo, name: string) {
  await page.screenshot({ path: info.outputPath(`${name}.png`), fullPage: true });
}

async function downloadText(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), bytes: readFileSync(path) };
}

/** RFC 4180 records of the report CSV (BOM, quoted fields with commas, quotes and line breaks) keyed by header. */
function csvRecords(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') (row.push(cell), (cell = ''));
    else if (ch === '\n') (row.push(cell.replace(/\r$/, '')), rows.push(row), (row = []), (cell = ''));
    else cell += ch;
  }
  if (cell || row.length) (row.push(cell), rows.push(row));
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

test('the lab: documents → queries → negatives → model → probe → train (with reload) → evaluate → export', async ({ page }, info) => {
  let trainBm25Ndcg = '';
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Only the configured endpoint (the local test server) and the page's own server may be reached.
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!/^(http:\/\/127\.0\.0\.1[:/]|blob:|data:)/.test(r.url())) outside.push(r.url());
  });
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && console.log(`[page] HTTP ${r.status()} ${r.url()}`));
  await page.goto('./');
  await expect(page.getByRole('heading', { name: 'Rerank Lab' })).toBeVisible();

  await test.step('1 documents: drop the folder, ingest report, chunking', async () => {
    await page.getByTestId('docs-input').setInputFiles(DOCS);
    await expect(page.getByTestId('ingest-report')).toBeVisible();
    await expect(page.getByTestId('ingest-taken')).toHaveText('8');
    await expect(page.getByTestId('ingest-skipped')).toHaveText('2');
    const report = page.getByTestId('ingest-report');
    await expect(report).toContainText('gb18030');
    await expect(report).toContainText('empty file');
    await expect(report.locator('tr', { hasText: '照片.txt' })).toContainText('skipped');
    await page.getByTestId('chunk-size').fill('40');
    await page.getByTestId('chunk-overlap').fill('0');
    await page.getByTestId('rechunk').click();
    await expect(page.getByTestId('chunk-preview').locator('li').first()).toBeVisible();
    await expect.poll(async () => Number(await page.getByTestId('chunk-count').locator('strong').textContent())).toBeGreaterThan(20);
    await expect(page.getByTestId('chunk-preview')).not.toContainText('\uFFFD');
    await shot(page, info, '1-documents');
  });

  await test.step('2 queries from the local chat server', async () => {
    await page.getByTestId('step-2').click();
    await page.getByTestId('endpoint-url').fill(server.url);
    await page.getByTestId('endpoint-model').fill('test-model');
    await page.getByTestId('test-connection').click();
    await expect(page.getByTestId('connection-result')).toContainText('Connected: test-model answered');
    await page.getByTestId('generate-queries').click();
    await expect(page.getByTestId('query-table')).toBeVisible();
    await expect.poll(async () => Number(await page.getByTestId('query-count').textContent())).toBeGreaterThan(15);
    expect(server.requests()).toBeGreaterThan(15);
    await shot(page, info, '2-queries');
  });

  await test.step('3 hard negatives: mine, guard report, JSONL', async () => {
    await page.getByTestId('step-3').click();
    await page.getByTestId('mine-negatives').fill('3');
    await page.getByTestId('mine-val-ratio').fill('0.25');
    await page.getByTestId('mine').click();
    await expect(page.getByTestId('mine-report')).toBeVisible();
    expect(Number(await page.getByTestId('train-count').textContent())).toBeGreaterThan(5);
    expect(Number(await page.getByTestId('val-count').textContent())).toBeGreaterThan(1);
    await expect(page.getByTestId('guard-report')).toContainText('overlaps the positive');
    await expect(page.getByTestId('mined-example').first()).toContainText(/BM25 \d/);
    const dl = await downloadText(page, () => page.getByTestId('download-train').click());
    const lines = dl.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toHaveProperty('query');
    expect(lines[0].neg.length).toBe(3);
    await shot(page, info, '3-negatives');
  });

  await test.step('4 model: load the tiny fixture, memory estimate, base scores', async () => {
    await page.getByTestId('step-4').click();
    await page.getByTestId('model-input').setInputFiles(MODEL);
    await expect(page.getByTestId('model-summary').or(page.getByTestId('model-error'))).toBeVisible({ timeout: 120_000 });
    await shot(page, info, '4-model');
    const modelError = (await page.getByTestId('model-error').count()) ? await page.getByTestId('model-error').textContent() : null;
    expect(modelError, `loading the fixture model failed: ${modelError}`).toBeNull();
    await expect(page.getByTestId('param-count')).toHaveText(/\d/);
    await page.getByTestId('max-length').fill('32');
    await page.getByTestId('group-size').fill('4');
    await expect(page.getByTestId('memory-estimate')).toBeVisible();
    await page.getByTestId('score-base').click();
    await expect(page.getByTestId('base-metrics')).toBeVisible({ timeout: 120_000 });
    await shot(page, info, '4-model');
  });

  await test.step('5 batch-size probe', async () => {
    await page.getByTestId('step-5').click();
    await expect(page.getByTestId('probe-length')).toHaveText('32'); // the length training will use, from step 4
    // a long probe can be cancelled, and its elapsed time moves
    await page.getByTestId('probe-max').fill('4096');
    await page.getByTestId('probe').click();
    const t0 = await page.getByTestId('probe-elapsed').textContent();
    await expect(page.getByTestId('probe-elapsed')).not.toHaveText(t0!, { timeout: 5_000 });
    await page.getByTestId('probe-cancel').click();
    await expect(page.getByTestId('probe-error')).toContainText('Cancelled', { timeout: 120_000 });
    await page.getByTestId('probe-max').fill('4');
    await page.getByTestId('probe').click();
    await expect(page.getByTestId('probe-result').or(page.getByTestId('probe-error'))).toBeVisible({ timeout: 300_000 });
    await expect(page.getByTestId('probe-error')).toHaveCount(0);
    await expect(page.getByTestId('probe-table')).toBeVisible();
    await expect(page.getByTestId('probe-table').locator('tbody tr').first().locator('td').nth(1)).toHaveText('32');
    expect(Number(await page.getByTestId('probe-picked').textContent())).toBeGreaterThanOrEqual(1);
    await shot(page, info, '5-probe');
  });

  await test.step('5b sweep: two short runs, a reload in the middle, continue, the winner goes to training', async () => {
    await page.getByTestId('step-9').click();
    await page.getByTestId('sweep-lrs').fill('2e-5, 3e-5');
    await page.getByTestId('sweep-epochs').fill('1');
    await page.getByTestId('sweep-max-train').fill('6');
    await page.getByTestId('sweep-start').click();
    const table = page.getByTestId('sweep-table');
    await expect(table.locator('tr', { hasText: 'done' })).toHaveCount(1, { timeout: 300_000 });
    await page.reload();
    await expect(page.getByTestId('sweep-interrupted')).toContainText('1 trial(s) left');
    await page.getByTestId('sweep-continue').click();
    await expect(table.locator('tr', { hasText: 'done' })).toHaveCount(2, { timeout: 300_000 });
    await expect(page.getByTestId('sweep-chart').locator('polyline')).toHaveCount(2);
    await expect(page.getByTestId('sweep-winner')).toContainText('Best so far: lr');
    await expect(page.getByTestId('sweep-winner')).toContainText('NDCG@10'); // ranked by Training's best-epoch metric
    const winnerLr = Number(/lr ([\d.e-]+),/.exec((await page.getByTestId('sweep-winner').textContent())!)![1]); // 2e-5 or 3e-5
    await shot(page, info, '5b-sweep');
    await page.getByTestId('sweep-use').click();
    await expect(page.getByTestId('lr')).toHaveValue(String(winnerLr));
    await expect(page.getByTestId('epochs')).toHaveValue('1');
  });

  await test.step('6 training: start, reload mid-run, resume from the checkpoint, finish', async () => {
    await page.getByTestId('step-6').click();
    await page.getByTestId('lr').fill('0.00002');
    await page.getByTestId('epochs').fill('3');
    await page.getByTestId('train-start').click();
    await expect(page.getByTestId('train-progress').or(page.getByTestId('train-error'))).toBeVisible({ timeout: 300_000 });
    await expect(page.getByTestId('train-error')).toHaveCount(0);
    // elapsed time keeps moving while training runs
    const elapsed0 = await page.getByTestId('train-elapsed').textContent();
    await expect(page.getByTestId('train-elapsed')).not.toHaveText(elapsed0!, { timeout: 5_000 });
    // a checkpoint every 2 steps here (a quarter epoch): step 3 means the one at step 2 is written
    await expect(page.getByTestId('train-progress')).toContainText(/step ([3-9]|\d\d) \//, { timeout: 300_000 });
    await shot(page, info, '6a-training');
    await page.reload();
    // the reload shows the options the interrupted run really used, whatever the fields say now
    await expect(page.getByTestId('train-interrupted')).toContainText('It used epochs 3');
    await expect(page.getByTestId('train-interrupted')).toContainText(/last checkpoint is at step \d/);
    await shot(page, info, '6b-after-reload');
    await page.getByTestId('train-resume-checkpoint').click();
    await expect(page.getByTestId('train-note')).toContainText(/Resumed from the checkpoint at step \d/);
    await expect(page.getByTestId('train-summary').or(page.getByTestId('train-error'))).toBeVisible({ timeout: 600_000 });
    await expect(page.getByTestId('train-error')).toHaveCount(0);
    // Validation: only validation documents, BM25 candidate lists, one row per evaluation (epoch 0 = the base model
    // included), each with the model's NDCG@10 beside BM25's, exactly one best row, and the summary naming the metric.
    await expect(page.getByTestId('validation-note')).toContainText('validation documents only');
    await expect(page.getByTestId('validation-info')).toContainText(/\d+ validation queries × \(BM25 top 30 of \d+ validation documents/);
    const evalRows = page.getByTestId('eval-table').locator('tbody tr');
    const epochs = (await evalRows.locator('td:nth-child(1)').allTextContents()).map((t) => parseInt(t, 10));
    expect(epochs[0]).toBe(0);
    expect(epochs.at(-1)).toBe(3);
    await expect(evalRows.first().locator('td:nth-child(3)')).toHaveText(/^\s*\d\.\d{3}\s+\(\d\.\d{3}\)\s*$/);
    // the kept epoch is the one with the highest NDCG@10 (epoch 0 included), and the summary says which it is
    await expect(evalRows.filter({ hasText: '★' })).toHaveCount(1);
    const ndcg = (await evalRows.locator('td:nth-child(3)').allTextContents()).map((t) => parseFloat(t));
    const starred = parseFloat((await evalRows.filter({ hasText: '★' }).locator('td:nth-child(3)').textContent())!);
    expect(starred).toBe(Math.max(...ndcg));
    const bestEpoch = parseInt((await evalRows.filter({ hasText: '★' }).locator('td:nth-child(1)').textContent())!, 10);
    // BM25's own NDCG@10 on the validation lists (in brackets): the Evaluate step's floor must be the same figure
    trainBm25Ndcg = (await evalRows.first().locator('td:nth-child(3) small').textContent())!.replace(/[()\s]/g, '');
    await expect(page.getByTestId('train-summary')).toContainText(bestEpoch === 0 ? /No fine-tuned epoch beat the base model on ndcg@10/ : new RegExp(`Best epoch ${bestEpoch} by ndcg@10`));
    // the loss chart: the training-loss line, and a validation-loss line with one point per evaluation
    const lossChart = page.getByTestId('loss-chart');
    await expect(lossChart.locator('polyline[stroke="#2f6fde"]')).toHaveCount(1);
    const valPoints = (await lossChart.locator('polyline[stroke="#c0392b"]').getAttribute('points'))!.trim().split(/\s+/);
    expect(valPoints).toHaveLength(await evalRows.count());
    await shot(page, info, '6c-trained');
  });

  let tunedMetrics: string[] = [];
  await test.step('7 evaluate: report, chart, ranking metrics beside BM25, exports, try it', async () => {
    await page.getByTestId('step-7').click();
    // candidates per query default to training's validation lists (BM25 top 30)
    await expect(page.getByTestId('eval-depth')).toHaveValue('30');
    await page.getByTestId('evaluate').click();
    await expect(page.getByTestId('eval-report').or(page.getByTestId('eval-error'))).toBeVisible({ timeout: 300_000 });
    await expect(page.getByTestId('eval-error')).toHaveCount(0);
    // The exported CSV has every case's logits: the labels and the conclusion's counts must follow from them by the
    // report's rules (src/eval/report.ts: danger gap 1.0, noise ±0.1 logit), and the page must show the same labels.
    const csv = await downloadText(page, () => page.getByTestId('export-csv').click());
    const rows = csvRecords(csv.bytes.toString('utf8'));
    expect(rows.length).toBeGreaterThan(0);
    const num = (r: Record<string, string>, k: string) => Number(r[k]);
    const NOISE = 0.1;
    for (const r of rows) {
      const [bp, bn, tp, tn] = [num(r, 'base_pos'), num(r, 'base_neg'), num(r, 'tuned_pos'), num(r, 'tuned_neg')];
      const delta = tp - tn - (bp - bn);
      expect(r.base_label, `case ${r.case}`).toBe(bn > bp ? '排序错误' : bp - bn < 1 ? '危险' : '尚可');
      const tuned = Math.abs(delta) <= NOISE ? '持平' : delta > 0 ? (tn > tp ? '改善' : '优秀') : bn <= bp && tn > tp ? '翻车' : '变差';
      expect(r.tuned_label, `case ${r.case}`).toBe(tuned);
    }
    const shown = rows.slice(0, 50);
    const labelsIn = (col: number) => page.getByTestId('case-table').locator(`tbody tr td:nth-child(${col})`).allTextContents();
    expect((await labelsIn(6)).map((t) => t.trim().split(/\s/)[0])).toEqual(shown.map((r) => r.base_label));
    expect((await labelsIn(8)).map((t) => t.trim().split(/\s/)[0])).toEqual(shown.map((r) => r.tuned_label));
    const n = rows.length;
    const widened = rows.filter((r) => num(r, 'tuned_gap') > num(r, 'base_gap') + NOISE).length;
    const narrowed = rows.filter((r) => num(r, 'tuned_gap') < num(r, 'base_gap') - NOISE).length;
    await expect(page.getByTestId('conclusions')).toContainText(`Gap widened: ${widened}/${n} cases, narrowed ${narrowed}/${n}, unchanged ${n - widened - narrowed}/${n}`);
    await expect(page.getByTestId('score-chart').locator('rect[fill="#2f6fde"]').first()).toBeVisible();
    // The ranking table on realistic lists: each query reranks BM25's top 30 of the validation documents plus its
    // positives; BM25's own order is the floor, and it is the figure training's table showed for the same lists.
    await expect(page.getByTestId('ranking-info')).toContainText(/\(\d+ queries, each reranking BM25's top 30 of \d+ documents plus its positives; BM25 put \d+% of the positives in its top 30\)/);
    const ranking = page.getByTestId('ranking-table');
    await expect(ranking.locator('thead th').nth(1)).toContainText('BM25');
    const rowOf = async (name: string) => (await ranking.locator('tbody tr', { hasText: name }).locator('td').allTextContents()).map((t) => t.trim());
    const ndcgRow = await rowOf('NDCG@10');
    expect(ndcgRow[0]).toBe('NDCG@10');
    for (const cell of ndcgRow.slice(1)) expect(cell).toMatch(/^[01]\.\d{3}$/);
    expect(ndcgRow[1]).toBe(trainBm25Ndcg);
    expect((await ranking.locator('tbody tr td:nth-child(1)').allTextContents()).map((t) => t.trim())).toEqual(['NDCG@10', 'MRR@10', 'Hit@1', 'Recall@10']);
    await expect(page.getByTestId('metrics-table')).toHaveCount(0); // the older 1-positive + negatives table is gone
    // the ranking CSV holds the same figures at full precision
    const rankingCsv = csvRecords((await downloadText(page, () => page.getByTestId('export-ranking-csv').click())).bytes.toString('utf8'));
    const csvNdcg = rankingCsv.find((r) => r.metric === 'ndcg@10')!;
    expect([csvNdcg.bm25, csvNdcg.base, csvNdcg.tuned].map((x) => Number(x).toFixed(3))).toEqual(ndcgRow.slice(1));
    expect(csvNdcg.depth).toBe('30');
    tunedMetrics = (await ranking.locator('tbody tr td:nth-child(4)').allTextContents()).map((t) => t.trim());
    const html = await downloadText(page, () => page.getByTestId('export-html').click());
    expect(html.bytes.toString('utf8')).toContain('<svg');
    await expect(page.getByTestId('try-ranked').locator('li').first()).toBeVisible({ timeout: 60_000 });
    await shot(page, info, '7-evaluate');
  });

  await test.step('8 export: zip with model, card, dataset, report; the exported model scores the same', async () => {
    await page.getByTestId('step-8').click();
    const zip = await downloadText(page, () => page.getByTestId('export-zip').click());
    const files = unzipSync(new Uint8Array(zip.bytes));
    for (const f of ['model/model.safetensors', 'model/config.json', 'model/tokenizer.json', 'model/README.md', 'model/onnx/model.onnx', 'data/train.jsonl', 'data/val.jsonl', 'report/report.html', 'report/report.csv', 'recipe/train_reranker.py', 'recipe/recipe.json', 'recipe/data/train.jsonl']) {
      expect(Object.keys(files), f).toContain(f);
    }
    expect(strFromU8(files['model/README.md'])).toMatch(/\| NDCG@10 \| \d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \|/);
    expect(Object.keys(files)).toContain('report/ranking.csv');
    await expect(page.getByTestId('export-done')).toBeVisible();
    await shot(page, info, '8-export');
    // reload the exported folder as the base model: its validation metrics must equal the fine-tuned ones
    const dir = info.outputPath('exported-model');
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) {
      if (!name.startsWith('model/')) continue;
      mkdirSync(dirname(join(dir, name.slice(6))), { recursive: true }); // model/onnx/model.onnx
      writeFileSync(join(dir, name.slice(6)), bytes);
    }
    await page.getByTestId('step-4').click();
    await page.getByTestId('model-input').setInputFiles(dir);
    await expect(page.getByTestId('model-name')).toContainText('exported-model', { timeout: 120_000 });
    await page.getByTestId('score-base').click();
    await expect(page.getByTestId('base-metrics')).toBeVisible({ timeout: 120_000 });
    // the same lists (BM25 top 30) scored by the exported model: its column equals the fine-tuned one of step 7
    const reloaded = (await page.getByTestId('base-metrics').locator('tbody tr td:nth-child(3)').allTextContents()).map((t) => t.trim());
    expect(reloaded).toEqual(tunedMetrics);
    // the model switched: the probe and the training run made with the first model are out of date
    await expect(page.getByTestId('model-switched')).toBeVisible();
    await page.getByTestId('step-5').click();
    await expect(page.getByTestId('stale-probe')).toContainText('the model (step 4) changed');
    await expect(page.getByTestId('probe-use')).toBeDisabled(); // the old model's batch size is not offered as current
  });

  await test.step('9 a second folder after training: it adds to the corpus, and every step built on the old one is out of date', async () => {
    await page.getByTestId('step-1').click();
    const before = Number(await page.getByTestId('chunk-count').locator('strong').textContent());
    await expect(page.getByTestId('mode-add')).toBeChecked();
    await page.getByTestId('docs-input').setInputFiles(writeSecondFolder(info.outputPath('second')));
    await expect(page.getByTestId('ingest-note')).toContainText('Added');
    const report = page.getByTestId('ingest-report');
    await expect(report.locator('tr', { hasText: '公积金提取.docx' })).toContainText('taken');
    await expect(report.locator('tr', { hasText: '图书馆.txt' })).toContainText('taken'); // the first folder is still there
    await expect.poll(async () => Number(await page.getByTestId('chunk-count').locator('strong').textContent())).toBeGreaterThan(before);
    await expect(page.getByTestId('file-table')).toContainText('新增文档/公积金提取.docx');
    // menus and footers of the web pages did not become chunks
    await page.locator('select').selectOption({ label: '新增文档/site/医保报销.html' });
    await expect(page.getByTestId('chunk-preview')).toContainText('门诊费用');
    await expect(page.getByTestId('chunk-preview')).not.toContainText('版权所有');
    await expect(page.getByTestId('chunk-preview')).not.toContainText('政务公开');
    // the step bar marks every step downstream of the documents
    for (const n of [2, 3, 6, 7]) await expect(page.getByTestId(`step-${n}`)).toHaveClass(/outdated/);
    await expect(page.getByTestId('step-1')).toHaveClass(/done/);
    await shot(page, info, '9a-second-folder');
    await page.getByTestId('step-2').click();
    await expect(page.getByTestId('stale-queries')).toContainText('the chunks (step 1) changed');
    await expect(page.getByTestId('redo-queries')).toContainText(/Generate for the \d+ chunk/);
    await page.getByTestId('step-3').click();
    await expect(page.getByTestId('stale-dataset')).toContainText('changed since it was made');
    await page.getByTestId('step-6').click();
    await expect(page.getByTestId('stale-train')).toBeVisible();
    await page.getByTestId('step-7').click();
    await expect(page.getByTestId('stale-report')).toBeVisible();
  });

  await test.step('10 the export refuses the first model\'s fine-tune under the loaded model\'s name, with one click to redo', async () => {
    await page.getByTestId('step-8').click();
    await expect(page.getByTestId('export-refused')).toContainText('trained from bert-tiny, but the loaded model is exported-model');
    await expect(page.getByTestId('export-zip')).toBeDisabled();
    await expect(page.getByTestId('export-zip-why')).toContainText('another model');
    await expect(page.getByTestId('export-train-again')).toContainText('Train again with exported-model');
    await shot(page, info, '10-export-refused');
  });

  expect(errors).toEqual([]);
  expect(outside).toEqual([]);
});
