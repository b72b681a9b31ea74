// Bindings, checked without a GPU by reading the WGSL (tests/unit/helpers/wgsl.ts): every entry point of every
// shader follows launch.ts's convention, and attention.wgsl's binding table (its entry points reuse binding numbers)
// matches both the shader and the launcher's ATTENTION_BINDINGS.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shaderSource } from '../../../src/gpu/shaders.ts';
import { ATTENTION_BINDINGS } from '../../../src/kernels/attention.ts';
import { readWgsl } from '../helpers/wgsl.ts';

const shaders = readdirSync(new URL('../../../shaders/', import.meta.url))
  .filter((f) => f.endsWith('.wgsl'))
  .map((f) => f.slice(0, -'.wgsl'.length));

describe('shader bindings', () => {
  for (const name of shaders) {
    it(`${name}.wgsl: each entry point uses bindings 0..n-1, the uniform (if any) last`, async () => {
      const m = readWgsl(await shaderSource(name));
      expect(m.entryPoints.length).toBeGreaterThan(0);
      for (const entry of m.entryPoints) {
        const used = m.used(entry);
        expect(used.map((r) => r.binding), `${name}.${entry}: ${used.map((r) => r.name).join(', ')}`).toEqual(used.map((_, i) => i));
        const uniforms = used.filter((r) => r.space === 'uniform');
        expect(uniforms.length, `${name}.${entry}`).toBeLessThanOrEqual(1);
        if (uniforms.length) expect(used.at(-1), `${name}.${entry}`).toBe(uniforms[0]);
      }
    });
  }

  it("attention.wgsl: the binding table, the variables each entry point uses and the launcher's ATTENTION_BINDINGS agree", async () => {
    const src = await shaderSource('attention');
    const m = readWgsl(src);
    const table = bindingTable(src);
    const entries = Object.keys(ATTENTION_BINDINGS).sort();
    expect(Object.keys(table).sort()).toEqual(entries);
    expect([...m.entryPoints].sort()).toEqual(entries);
    for (const [entry, storage] of Object.entries(ATTENTION_BINDINGS)) {
      const used = m.used(entry).map((r) => r.name);
      expect(table[entry], `the table's row for ${entry}`).toEqual(used);
      expect(used.slice(0, -1), `ATTENTION_BINDINGS.${entry}`).toEqual([...storage]);
      expect(m.resources.get(used.at(-1)!)?.space, `${entry}'s last binding`).toBe('uniform');
    }
  });
});

/** attention.wgsl's rows "//   entry   name, name, …" after the line that says "Bindings per entry point". */
function bindingTable(src: string): Record<string, string[]> {
  const lines = src.split('\n');
  const start = lines.findIndex((l) => l.includes('Bindings per entry point'));
  expect(start, 'the binding table in attention.wgsl').toBeGreaterThanOrEqual(0);
  const rows: Record<string, string[]> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^\/\/\s+(\w+)\s+(\w+(?:,\s*\w+)*)\s*$/.exec(line);
    if (!m) break;
    rows[m[1]] = m[2].split(/,\s*/);
  }
  return rows;
}
