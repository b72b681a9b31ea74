#!/usr/bin/env node
// `rerank-lab <command> [options]` (or `npm run cli -- <command> …` from a checkout).
// Each command lives in src/cli/commands/<name>.ts and exports `run(argv): Promise<number>` (the exit code)
// and `help` (one usage paragraph). Commands are loaded lazily so `ingest` never loads Dawn.

type Command = { run(argv: string[]): Promise<number>; help: string };

const commands: Record<string, () => Promise<Command>> = {
  ingest: () => import('./commands/ingest.ts'),
  queries: () => import('./commands/queries.ts'),
  mine: () => import('./commands/mine.ts'),
  adapter: () => import('./commands/adapter.ts'),
  train: () => import('./commands/train.ts'),
  parity: () => import('./commands/parity.ts'),
  bench: () => import('./commands/bench.ts'),
  score: () => import('./commands/score.ts'),
  eval: () => import('./commands/eval.ts'),
  export: () => import('./commands/export.ts'),
};

/** Commands that run kernels: their matmul tile picks persist (see matmul-tuning.ts). */
const GPU_COMMANDS = new Set(['train', 'parity', 'bench']);

function usage(): string {
  return [
    'Usage: rerank-lab <command> [options]',
    '',
    `Commands: ${Object.keys(commands).join(', ')}`,
    "Run 'rerank-lab <command> --help' for a command's options.",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const load = commands[name];
  if (!load) {
    console.error(`Unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  if (GPU_COMMANDS.has(name)) (await import('./matmul-tuning.ts')).configureMatmulTuning();
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    console.error(`rerank-lab: ${e.message}`);
    if (process.env.RERANK_LAB_DEBUG) console.error(e.stack);
    process.exitCode = 1;
  },
);
