// The command line's matmul tuning: picks persist in a JSON file between runs (so a shape is timed once per machine),
// and two environment variables steer it:
//   RERANK_LAB_MATMUL_TILE=<tile>   use that tile everywhere (bench variants; bisecting a driver problem)
//   RERANK_LAB_MATMUL_TUNE=0        no autotune: the default tile
//   RERANK_LAB_CACHE=<dir>          where the file lives (default $XDG_CACHE_HOME/rerank-lab or ~/.cache/rerank-lab)
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type MatmulTuneStore, setMatmulTuning } from '../kernels/matmul-tune.ts';

export function tuneCacheFile(env = process.env): string {
  const dir = env.RERANK_LAB_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rerank-lab');
  return join(dir, 'matmul-tune.json');
}

/** A store over a JSON file; an unreadable file counts as empty, a failed write only costs a re-tune next run. */
export function fileTuneStore(file: string): MatmulTuneStore {
  let entries: Record<string, string> = {};
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    entries = {};
  }
  return {
    get: (key) => entries[key],
    set(key, tile) {
      entries[key] = tile;
      try {
        mkdirSync(join(file, '..'), { recursive: true });
        writeFileSync(`${file}.tmp`, JSON.stringify(entries, null, 1));
        renameSync(`${file}.tmp`, file);
      } catch (e) {
        console.warn(`rerank-lab: could not save matmul tuning to ${file} (${(e as Error).message}); it is re-measured next run`);
      }
    },
  };
}

export function configureMatmulTuning(env = process.env): void {
  setMatmulTuning({
    store: fileTuneStore(tuneCacheFile(env)),
    force: env.RERANK_LAB_MATMUL_TILE || undefined,
    autotune: env.RERANK_LAB_MATMUL_TUNE !== '0',
  });
}
