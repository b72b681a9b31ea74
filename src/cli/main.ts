#!/usr/bin/env node
// `rerank-lab <command> [options]` (or `npm run cli -- <command> …` from a checkout): see command-list.ts.
import { main } from './command-list.ts';

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
