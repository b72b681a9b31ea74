// Runs a TypeScript file (or the CLI) as a child Node process through tsx, optionally killed at a named point.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../../../src/cli/main.ts', import.meta.url));

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runTs(file: string, args: string[], opts: { killAt?: string; env?: Record<string, string>; cwd?: string } = {}): ChildResult {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  if (opts.killAt) env.RERANK_LAB_KILL_AT = opts.killAt;
  else delete env.RERANK_LAB_KILL_AT;
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: opts.cwd ?? ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
