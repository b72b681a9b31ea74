import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { expect, test } from '@playwright/test';

// The static build works from any static server under any sub-path (relative base): workers, wasm and shaders load,
// the training worker gets an adapter, and no request leaves the machine.
const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.ico': 'image/x-icon', '.wgsl': 'text/plain',
};
const PREFIX = '/team/tools/rerank-lab/';

function serveDist(): Promise<Server> {
  const root = join(process.cwd(), 'dist');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(PREFIX)) {
      res.writeHead(404).end('outside the sub-path');
      return;
    }
    const rel = normalize(decodeURIComponent(url.pathname.slice(PREFIX.length)) || 'index.html');
    const file = join(root, rel);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('the static build runs under a sub-path of a plain static server, with no outside requests', async ({ page }) => {
  const server = await serveDist();
  try {
    const { port } = server.address() as AddressInfo;
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!/^(http:\/\/127\.0\.0\.1[:/]|blob:|data:)/.test(r.url())) outside.push(r.url());
    });
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${port}${PREFIX}`);
    await expect(page.getByTestId('adapter-name')).toBeVisible({ timeout: 60_000 });
    await expect(page.getByTestId('step-1')).toBeVisible();
    expect(failed).toEqual([]);
    expect(outside).toEqual([]);
  } finally {
    server.close();
  }
});
