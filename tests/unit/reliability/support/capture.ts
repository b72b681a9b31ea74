// Captures console.log / console.error (and the progress bar's stderr writes) of an in-process command run.
import { vi } from 'vitest';

export function capture(): { out: string[]; err: string[]; text(): string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  return { out, err, text: () => [...out, ...err].join('\n') };
}
