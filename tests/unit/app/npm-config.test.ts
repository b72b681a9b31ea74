import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Issue 8 item 10: every npm command warned 'Unknown project config "onnxruntime-node-install"' (an .npmrc line).
// The postinstall it skipped (onnxruntime-node downloading CUDA libraries) is now denied in package.json's
// allowScripts (npm 11) and skipped by ONNXRUNTIME_NODE_INSTALL in scripts/ensure-deps.sh (older npm).
describe('npm configuration', () => {
  it('an npm command in the repository prints no warning', () => {
    const r = spawnSync('npm', ['pkg', 'get', 'name'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('"rerank-lab"');
    expect(r.stderr).not.toMatch(/warn/i);
  });

  it("onnxruntime-node's download is switched off without an .npmrc", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { allowScripts?: Record<string, boolean> };
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
    expect(readFileSync('scripts/ensure-deps.sh', 'utf8')).toMatch(/^export ONNXRUNTIME_NODE_INSTALL=skip$/m);
    const npmrc = execFileSync('git', ['ls-files', '.npmrc'], { encoding: 'utf8' });
    expect(npmrc.trim()).toBe('');
  });
});
