// The command list of `rerank-lab` and its dispatch (main.ts runs it). Each command lives in
// src/cli/commands/<name>.ts and exports `run(argv): Promise<number>` (the exit code) and `command`, its option table
// (src/cli/args.ts), from which its parsing and `--help` come. Commands are loaded lazily so `ingest` never loads
// Dawn; the table below is also the top-level help.

import { type CommandSpec, helpText } from './args.ts';

type Command = { run(argv: string[]): Promise<number>; command: CommandSpec };

export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  ingest: { summary: 'documents in a folder → chunks (JSONL), with a per-file report', load: () => import('./commands/ingest.ts') },
  queries: { summary: 'one question per chunk from an LLM endpoint, a local GGUF model, or imported pairs', load: () => import('./commands/queries.ts') },
  mine: { summary: 'BM25 hard negatives, split by source document → training (and validation) JSONL', load: () => import('./commands/mine.ts') },
  train: { summary: 'fine-tune a cross-encoder on WebGPU; keeps the best epoch by a ranking metric', load: () => import('./commands/train.ts') },
  eval: { summary: 'base vs fine-tuned: reranking metrics on BM25 candidate lists and the per-case report', load: () => import('./commands/eval.ts') },
  score: { summary: 'score query–document pairs with a model folder (one JSON line per pair)', load: () => import('./commands/score.ts') },
  export: { summary: 'the model as ONNX for serving, or a multi-GPU training recipe', load: () => import('./commands/export.ts') },
  parity: { summary: 'the engine against a Hugging Face dump (logits, losses, gradients, AdamW)', load: () => import('./commands/parity.ts') },
  bench: { summary: 'training and kernel throughput with random weights', load: () => import('./commands/bench.ts') },
  adapter: { summary: 'the WebGPU adapter, its features and limits, as JSON', load: () => import('./commands/adapter.ts') },
};

/** Commands that run kernels: their matmul tile picks persist (see matmul-tuning.ts). */
const GPU_COMMANDS = new Set(['train', 'parity', 'bench']);

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'Usage: rerank-lab <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'rerank-lab <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`Unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText(cmd.command));
    return 0;
  }
  if (GPU_COMMANDS.has(name)) (await import('./matmul-tuning.ts')).configureMatmulTuning();
  return cmd.run(rest);
}
