import { expect, test } from '@playwright/test';

// The built app loads, its training worker acquires a WebGPU adapter, and the page shows the adapter's name and
// limits. No adapter is a failure with the page's own explanation, never a skip.
test('the app loads and shows the WebGPU adapter', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('./');
  await expect(page.getByRole('heading', { name: 'Rerank Lab' })).toBeVisible();
  const card = page.getByTestId('adapter-card');
  await expect(card.getByTestId('adapter-name').or(card.getByTestId('adapter-error'))).toBeVisible();
  const errorShown = card.getByTestId('adapter-error');
  const failure = (await errorShown.count()) > 0 ? await errorShown.textContent() : null;
  expect(failure, `no WebGPU adapter in Chromium: ${failure}`).toBeNull();
  const name = await card.getByTestId('adapter-name').textContent();
  console.log(`[e2e] adapter: ${name}`);
  expect(name).toMatch(/\S/);
  await expect(card.getByTestId('adapter-limits')).toContainText('Largest buffer');
  await page.screenshot({ path: testInfo.outputPath('adapter.png'), fullPage: true });
  expect(errors).toEqual([]);
});
