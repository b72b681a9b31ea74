// The recipe's Python training script (src/export/recipe/train_reranker.py), kept as a real .py file so Python tools
// can read and lint it. In the page (and Vitest) Vite inlines it; in Node without Vite (tsx) it is read from disk.

let bundled: Record<string, string> = {};
try {
  bundled = import.meta.glob('./recipe/*.py', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
} catch {
  // import.meta.glob exists only under Vite.
}

export const RECIPE_SCRIPT = 'train_reranker.py';

export async function recipeScript(): Promise<string> {
  const hit = bundled[`./recipe/${RECIPE_SCRIPT}`];
  if (hit !== undefined) return hit;
  // Indirect specifier: keeps Vite from bundling node:fs into the page.
  const fsName = 'node:fs/promises';
  const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ fsName);
  const here = import.meta.url; // not inline, so Vite does not emit the file as an asset as well
  return fs.readFile(new URL('./recipe/' + RECIPE_SCRIPT, here), 'utf8');
}
