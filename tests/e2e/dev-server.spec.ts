import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { writeSecondFolder } from './support/make-files.ts';

// Issue 8 item 6: on a cold `npm start` (no pre-bundled dependencies yet), the first folder drop pulled mammoth,
// pdfjs and jieba in for the first time, Vite pre-bundled them, reloaded the page, and the drop was lost. The dev
// server must pre-bundle them at start (optimizeDeps) so the first drop works and the page never reloads.

const PORT = 5199;
let server: ChildProcess | undefined;
let cacheDir = '';

test.afterAll(async () => {
  if (server?.pid) process.kill(-server.pid, 'SIGTERM');
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

async function waitForServer(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`the dev server did not answer at ${url} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('a cold dev server takes the first folder drop (docx, pdf, html), imports pairs and mines with jieba, without reloading the page', async ({ page }) => {
  test.setTimeout(240_000);
  // a fresh dependency cache: exactly what a first `npm start` meets
  cacheDir = mkdtempSync(join(tmpdir(), 'rerank-vite-cache-'));
  const log: string[] = [];
  server = spawn('npx', ['vite', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], {
    env: { ...process.env, RERANK_LAB_VITE_CACHE: cacheDir },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => log.push(String(d)));
  server.stderr!.on('data', (d) => log.push(String(d)));
  const url = `http://127.0.0.1:${PORT}/`;
  await waitForServer(url, 90_000);

  let loads = 0;
  page.on('load', () => loads++);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.getByRole('heading', { name: 'Rerank Lab' })).toBeVisible({ timeout: 60_000 });
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  const docs = writeSecondFolder(mkdtempSync(join(tmpdir(), 'rerank-docs-')));
  await page.getByTestId('docs-input').setInputFiles(docs);
  const report = page.getByTestId('ingest-report');
  await expect(report).toBeVisible({ timeout: 120_000 });
  await expect(report.locator('tr', { hasText: '公积金提取.docx' })).toContainText('taken');
  await expect(report.locator('tr', { hasText: 'parking.pdf' })).toContainText('taken');
  await expect(page.getByTestId('chunk-count').locator('strong')).not.toHaveText('0');
  // the rest of the data path on the dev server: import pairs (step 2) and mine with jieba (step 3)
  const pairs = join(docs, '..', 'pairs.jsonl');
  writeFileSync(
    pairs,
    [
      { query: '公积金怎么提取？', positive: '住房公积金提取须提供身份证和购房合同。' },
      { query: '医保怎么报销？', positive: '门诊费用在定点医院直接结算' },
      { query: '居住证怎么办？', positive: '居住证申领需要在居住地连续居住半年以上' },
      { query: '护照在哪里办？', positive: '护照申请可以在全市任一出入境接待大厅办理' },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n'),
  );
  await page.getByTestId('step-2').click();
  await page.getByTestId('import-queries').setInputFiles(pairs);
  await expect(page.getByTestId('query-count')).toHaveText('4');
  await page.getByTestId('step-3').click();
  await page.getByTestId('mine-negatives').fill('2');
  await page.getByTestId('mine-val-ratio').fill('0');
  await page.getByTestId('mine').click();
  await expect(page.getByTestId('mine-report')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('mined-example').first()).toContainText(/BM25 \d/);
  // no reload happened: the same document, loaded once
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  expect(loads).toBe(1);
  expect(log.join('')).not.toMatch(/optimized dependencies changed\. reloading|new dependencies optimized/i);
  expect(errors).toEqual([]);
});
